using KeyPool.Emulator.Hosting;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Completions;

/// <summary>
/// How one streamed answer goes: its text in chunks and the stream fault, if any, that cuts it (a reset wins over a
/// truncation). Decided and recorded before the first byte, and the event-stream headers set, so every stream grammar
/// meets the faults the same way.
/// </summary>
internal readonly record struct StreamPlan(string[] Chunks, int? ResetAfter, int? TruncateAfter)
{
    public static StreamPlan Begin(EmulatorState state, Exchange exchange, string text)
    {
        var chunks = ReplyText.Split(text, Math.Max(1, state.Options.StreamChunks));
        var resetAfter = state.Faults.ResetMidStreamAfterChunks is { } n && n <= chunks.Length ? n : (int?)null;
        var truncateAfter = resetAfter is null && state.Faults.TruncateStreamAfterChunks is { } t && t <= chunks.Length ? t : (int?)null;
        exchange.Record(StatusCodes.Status200OK, resetAfter is not null ? "reset_mid_stream" : truncateAfter is not null ? "truncated" : null);

        var response = exchange.Http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        return new StreamPlan(chunks, resetAfter, truncateAfter);
    }
}
