using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace KeyPool.Soak;

/// <summary>
/// Workers that each send chat requests one after another as random users of a large population, half of them
/// streamed (asking for usage, so the client sees every token the upstream counted), until told to stop.
/// </summary>
internal sealed class LoadClient(Uri gateway, int users, int workers)
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = workers, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
    {
        BaseAddress = gateway,
        Timeout = TimeSpan.FromSeconds(60),
    };

    private long _sent;
    private long _answered;
    private long _tokens;
    private long _streamErrors;

    /// <summary>Answers by status (0: no answer — connection failed or timed out).</summary>
    public ConcurrentDictionary<int, long> ByStatus { get; } = new();

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Requests answered 200 with a complete body.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Tokens the answers reported (<c>usage.total_tokens</c>), summed over complete answers.</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Streams that began 200 but ended with an error event.</summary>
    public long StreamErrors => Interlocked.Read(ref _streamErrors);

    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(() => WorkAsync(worker, stop), CancellationToken.None)));

    private async Task WorkAsync(int worker, CancellationToken stop)
    {
        var random = new Random(worker);
        while (!stop.IsCancellationRequested)
        {
            var user = $"soak-user-{random.Next(users):D5}";
            var stream = random.Next(2) == 0;
            Interlocked.Increment(ref _sent);
            try
            {
                await SendAsync(user, stream);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException)
            {
                ByStatus.AddOrUpdate(0, 1, (_, n) => n + 1);
            }
        }
    }

    private async Task SendAsync(string user, bool stream)
    {
        var messages = "\"messages\":[{\"role\":\"user\",\"content\":\"Soak test " + user + "\"}]";
        var body = stream
            ? "{\"model\":\"grok-4.3\"," + messages + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
            : "{\"model\":\"grok-4.3\"," + messages + "}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GatewayProcess.ClientToken);
        request.Headers.Add("X-KeyPool-User", user);
        // Not cancelled by the stop signal: a request started is always read to its end, so every token is seen.
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        ByStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
        if (status != 200)
        {
            return;
        }
        long? tokens = stream ? StreamUsage(text) : PlainUsage(text);
        if (tokens is { } counted)
        {
            Interlocked.Increment(ref _answered);
            Interlocked.Add(ref _tokens, counted);
        }
        else
        {
            Interlocked.Increment(ref _streamErrors);
        }
    }

    private static long? PlainUsage(string json) =>
        JsonDocument.Parse(json).RootElement.TryGetProperty("usage", out var usage) ? usage.GetProperty("total_tokens").GetInt64() : null;

    private static long? StreamUsage(string sse)
    {
        long? tokens = null;
        var done = false;
        foreach (var line in sse.Split('\n'))
        {
            if (line.StartsWith("data: [DONE]", StringComparison.Ordinal))
            {
                done = true;
            }
            else if (line.StartsWith("data: {", StringComparison.Ordinal) && line.Contains("\"usage\":{", StringComparison.Ordinal))
            {
                using var chunk = JsonDocument.Parse(line.AsMemory(6));
                if (chunk.RootElement.TryGetProperty("error", out _))
                {
                    return null;
                }
                tokens = chunk.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
            }
            else if (line.StartsWith("data: {\"error\"", StringComparison.Ordinal))
            {
                return null;
            }
        }
        return done ? tokens : null;
    }
}
