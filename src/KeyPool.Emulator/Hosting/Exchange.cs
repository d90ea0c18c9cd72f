using KeyPool.Emulator.Errors;
using KeyPool.Emulator.Usage;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Hosting;

/// <summary>One request in flight: what Served will record about it, and its cancellation.</summary>
internal sealed class Exchange : IDisposable
{
    public const string ConversationHeader = "x-grok-conv-id";
    public const string RequestIdHeader = "x-request-id";

    private readonly EmulatorState _state;
    private readonly CancellationTokenSource _aborted;

    public Exchange(HttpContext http, EmulatorState state)
    {
        Http = http;
        _state = state;
        At = state.TimeProvider.GetUtcNow();
        var conversation = http.Request.Headers[ConversationHeader].ToString();
        ConversationId = conversation.Length == 0 ? null : conversation;
        http.Response.Headers[RequestIdHeader] = Guid.NewGuid().ToString();
        // Client disconnect or emulator shutdown: either ends the delays of this request.
        _aborted = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, state.Stopping);
    }

    public HttpContext Http { get; }

    public DateTimeOffset At { get; }

    public CancellationToken Aborted => _aborted.Token;

    public string? Key { get; set; }

    public string? Model { get; set; }

    public bool Stream { get; set; }

    public string? User { get; set; }

    public string? ConversationId { get; set; }

    /// <summary>Set before <see cref="Record"/> by handlers whose answer reports usage.</summary>
    public TokenUsage? Usage { get; set; }

    public bool Recorded { get; private set; }

    public void Record(int status, string? reason)
    {
        Recorded = true;
        _state.Served.Add(new ServedRequest(Key, Http.Request.Path.Value ?? "", Model, Stream, status, User, ConversationId, At, reason)
        {
            // Test instrumentation: what a gateway sent along, so tests can check its header hygiene.
            Headers = Http.Request.Headers.Where(h => !h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
                .ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            Usage = Usage?.ToServed(),
        });
    }

    public Task FailAsync(int status, string message, string reason) =>
        FailAsync(status, XaiErrorCodes.ForStatus(status), message, reason);

    public Task FailAsync(int status, string code, string message, string reason)
    {
        Record(status, reason);
        return XaiError.WriteAsync(Http.Response, status, code, message, Aborted);
    }

    public void Dispose() => _aborted.Dispose();
}
