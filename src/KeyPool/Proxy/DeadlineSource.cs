using System.Collections.Concurrent;

namespace KeyPool.Proxy;

/// <summary>
/// A pooled cancellation source that fires at a deadline or when the client leaves. A linked source
/// plus a timer per request adds up at thousands of requests a second; reset sources are reused.
/// </summary>
internal readonly struct DeadlineSource : IDisposable
{
    private const int MaxPooled = 1024;
    private static readonly ConcurrentQueue<CancellationTokenSource> Pool = new();

    private readonly CancellationTokenSource _source;
    private readonly CancellationTokenRegistration _link;

    private DeadlineSource(CancellationTokenSource source, TimeSpan timeout, CancellationToken linked)
    {
        _source = source;
        _source.CancelAfter(timeout);
        _link = linked.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _source);
    }

    public CancellationToken Token => _source.Token;

    public static DeadlineSource Rent(TimeSpan timeout, CancellationToken linked) =>
        new(Pool.TryDequeue(out var source) ? source : new CancellationTokenSource(), timeout, linked);

    public void Dispose()
    {
        _link.Dispose();
        // A source that fired cannot be reset; it is simply dropped.
        if (_source.TryReset() && Pool.Count < MaxPooled)
        {
            Pool.Enqueue(_source);
        }
        else
        {
            _source.Dispose();
        }
    }
}
