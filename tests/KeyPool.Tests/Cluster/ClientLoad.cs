using System.Collections.Concurrent;
using System.Diagnostics;

namespace KeyPool.Tests.Cluster;

/// <summary>
/// Clients sending chat requests one after the other, in turn through the given clients (plain and streamed workers, each request
/// from one of a fixed set of users, a pause between requests) until stopped; every answer is kept with its time.
/// </summary>
internal sealed class ClientLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public ClientLoad(HttpClient http, int plainWorkers, int streamWorkers, TimeSpan pause, int users = 40)
        : this([http], plainWorkers, streamWorkers, pause, users)
    {
    }

    public ClientLoad(IReadOnlyList<HttpClient> http, int plainWorkers, int streamWorkers, TimeSpan pause, int users = 40)
    {
        _workers = Enumerable.Range(0, plainWorkers + streamWorkers)
            .Select(w => Task.Run(() => WorkAsync(http, w, stream: w >= plainWorkers, pause, users)))
            .ToArray();
    }

    public readonly record struct Outcome(TimeSpan At, TimeSpan Took, int Status, bool Stream, string Body);

    public ConcurrentQueue<Outcome> Outcomes { get; } = new();

    /// <summary>Time since the load started (the clock of <see cref="Outcome.At"/>).</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Stops sending and waits for the requests in flight.</summary>
    public async Task<IReadOnlyList<Outcome>> StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        return Outcomes.ToArray();
    }

    private async Task WorkAsync(IReadOnlyList<HttpClient> http, int worker, bool stream, TimeSpan pause, int users)
    {
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var started = _clock.Elapsed;
            var (status, body) = await ClusterTestBed.SendChatAsync(http[(worker + n) % http.Count], $"load-user-{(worker * 7919 + n) % users}", stream);
            var ended = _clock.Elapsed;
            Outcomes.Enqueue(new Outcome(ended, ended - started, status, stream, body));
            try
            {
                await Task.Delay(pause, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
