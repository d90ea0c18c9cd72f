using System.Buffers;
using System.IO.Pipelines;
using KeyPool.Errors;

namespace KeyPool.Proxy;

/// <summary>
/// Passes a server-sent-event stream through event by event: nothing is held back longer than it
/// takes to see an event's end, and each read's events are flushed at once. On the way it keeps
/// the last <c>usage</c> seen and, when the gateway asked for usage on the caller's behalf, drops
/// the usage-only chunk the caller did not ask for.
/// </summary>
internal static class SseRelay
{
    private const int InitialBuffer = 16 * 1024;
    private const int MaxEvent = 16 * 1024 * 1024;

    /// <summary>How long a stream is read on after its client left, for the usage the upstream bills.</summary>
    internal static readonly TimeSpan DrainWindow = TimeSpan.FromSeconds(30);

    /// <summary>How many bytes a stream is read on after its client left; past them the reservation is charged instead.</summary>
    internal const int MaxDrainBytes = 4 * 1024 * 1024;

    /// <summary>What the relay learnt from a chat or completions stream; other grammars derive from it.</summary>
    public class State
    {
        public TokenCounts? Usage;

        /// <summary>The stream's end marker (<c>data: [DONE]</c>, or the grammar's own end event) was seen.</summary>
        public bool Done;

        /// <summary>The client stopped reading: the relay ended early, and the stream's end proves nothing.</summary>
        public bool ClientGone;

        /// <summary>Reads usage from one event; false when the event must not reach the client.</summary>
        public virtual bool Inspect(ReadOnlySpan<byte> ev, bool stripUsageChunk) => InspectChat(ev, stripUsageChunk, this);

        /// <summary>Tells an SDK client the stream failed: OpenAI's <c>data: {"error":…}</c> event.</summary>
        public virtual void WriteError(PipeWriter client)
        {
            var error = OpenAiError.Serialize(StreamFailedMessage, OpenAiError.Upstream, StreamFailedCode);
            client.Write("data: "u8);
            client.Write(error);
            client.Write("\n\n"u8);
        }
    }

    internal const string StreamFailedMessage = "The upstream stream failed before it completed.";
    internal const string StreamFailedCode = "upstream_stream_failed";

    /// <summary>
    /// Chat and text completions end with <c>data: [DONE]</c> (OpenAI's and xAI's contract); an answer that closes
    /// without it was cut short, however cleanly the connection ended. Other streams (responses, messages) have
    /// their own end events and are passed through as they end.
    /// </summary>
    internal static bool EndsWithDone(string path) =>
        path.EndsWith("/chat/completions", StringComparison.Ordinal) || path.Equals("/completions", StringComparison.Ordinal);

    /// <summary>
    /// Relays <paramref name="response"/>'s stream to the client. When the upstream fails after events reached
    /// the client, the stream ends with an OpenAI-shaped <c>data: {"error":…}</c> event (the only way left to tell
    /// an SDK client); when it fails before, nothing was sent and the caller may try another key.
    /// </summary>
    public static async Task<UpstreamForwarder.Relayed> RelayAsync(ProxyExchange exchange, HttpResponseMessage response)
    {
        var client = exchange.Context.Response;
        client.StatusCode = (int)response.StatusCode;
        HeaderCopier.ToClient(response, client, keepContentLength: false);
        // Tell buffering intermediaries (nginx) to pass events on at once.
        client.Headers["X-Accel-Buffering"] = "no";
        var responses = ResponsesStreamState.Handles(exchange.Path);
        var state = responses ? new ResponsesStreamState() : new State();
        // A client that hangs up must not dodge the bill: the stream is read on (bounded) to its usage.
        exchange.Deadline?.KeepReadingAfterClientLeaves(DrainWindow);
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(exchange.Cancellation);
            var requireDone = responses || EndsWithDone(exchange.Path);
            await RelayEventsAsync(stream, client.BodyWriter, exchange.StripUsageChunk, state, exchange.Cancellation, requireDone, exchange.Context.RequestAborted);
            if (requireDone && !state.Done && !state.ClientGone && !exchange.ClientLeft)
            {
                throw new InvalidDataException(responses ? "The upstream stream ended without response.completed." : "The upstream stream ended without [DONE].");
            }
            return new UpstreamForwarder.Relayed(state.Usage, null);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException or InvalidDataException or OperationCanceledException)
        {
            if (!client.HasStarted)
            {
                client.Clear(); // nothing reached the client: another key may answer with its own status and headers
            }
            else if (!exchange.ClientLeft)
            {
                await WriteErrorEventAsync(client, state);
            }
            return new UpstreamForwarder.Relayed(state.Usage, exception.GetType().Name);
        }
        finally
        {
            exchange.Deadline?.KeepReadingAfterClientLeaves(TimeSpan.Zero); // another attempt is cancelled at once again
        }
    }

    private static async Task WriteErrorEventAsync(HttpResponse client, State state)
    {
        try
        {
            state.WriteError(client.BodyWriter);
            await client.BodyWriter.FlushAsync(CancellationToken.None);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client left while being told: the attempt is still settled by the caller.
        }
    }

    /// <summary>
    /// Relays until the upstream ends. Upstream read failures propagate; the caller decides what the client sees. Once the
    /// client is gone (<paramref name="clientLeft"/>, or its pipe completed) events are still read and inspected, not
    /// written, until the stream's end marker or <see cref="MaxDrainBytes"/> more bytes: the one drain for every grammar.
    /// </summary>
    internal static async Task RelayEventsAsync(
        Stream upstream, PipeWriter client, bool stripUsageChunk, State state, CancellationToken cancellationToken, bool requireDone = false, CancellationToken clientLeft = default)
    {
        var drained = 0L;
        var buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
        var start = 0; // first byte not yet written or dropped
        var end = 0;   // end of the bytes read
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    buffer = MakeRoom(buffer, ref start, ref end);
                }
                var read = await upstream.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                var scanFrom = Math.Max(start, end - 2); // a blank line may straddle two reads
                end += read;
                var wrote = false;
                while (FindEventEnd(buffer.AsSpan(scanFrom, end - scanFrom)) is var offset && offset >= 0)
                {
                    var eventEnd = scanFrom + offset;
                    var ev = buffer.AsSpan(start, eventEnd - start);
                    if (state.Inspect(ev, stripUsageChunk) && !state.ClientGone)
                    {
                        client.Write(ev);
                        wrote = true;
                    }
                    start = scanFrom = eventEnd;
                }
                if (wrote)
                {
                    var flush = await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    state.ClientGone = flush.IsCanceled || flush.IsCompleted;
                }
                state.ClientGone |= clientLeft.IsCancellationRequested;
                if (state.ClientGone && (state.Done || (drained += read) > MaxDrainBytes))
                {
                    return; // the client went away, and the usage is known or no longer worth waiting for
                }
            }
            if (end > start)
            {
                // A last event without its blank line: pass it on as it is, unless the stream needed an end marker
                // and this is not it (then it is a fragment or noise, and the caller reports a broken stream).
                var ev = buffer.AsSpan(start, end - start);
                if (state.Inspect(ev, stripUsageChunk) && (state.Done || !requireDone) && !state.ClientGone)
                {
                    client.Write(ev);
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Offset just past the first blank line (LF LF or LF CR LF), or -1.</summary>
    internal static int FindEventEnd(ReadOnlySpan<byte> span)
    {
        var searched = 0;
        while (true)
        {
            var lf = span[searched..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                return -1;
            }
            var at = searched + lf + 1;
            if (at < span.Length && span[at] == (byte)'\n')
            {
                return at + 1;
            }
            if (at + 1 < span.Length && span[at] == (byte)'\r' && span[at + 1] == (byte)'\n')
            {
                return at + 2;
            }
            searched = at;
        }
    }

    /// <summary>Chat's inspection: <c>[DONE]</c>, the last usage seen, and the usage-only chunk the client did not ask for.</summary>
    private static bool InspectChat(ReadOnlySpan<byte> ev, bool stripUsageChunk, State state)
    {
        if (ev.Length <= MaxDoneEvent && IsDone(ev))
        {
            state.Done = true;
            return true;
        }
        if (ev.IndexOf("\"usage\""u8) < 0)
        {
            return true;
        }
        var payload = Data(ev);
        if (payload.IsEmpty || !UsageReader.TryRead(payload, out var counts, out var emptyChoices))
        {
            return true;
        }
        // Older models send running usage on every chunk: keep the last, never add them up.
        state.Usage = counts;
        return !(stripUsageChunk && emptyChoices);
    }

    // "data: [DONE]" with a line end, a blank line and some slack for spaces or an "id:" field.
    private const int MaxDoneEvent = 64;

    /// <summary>Whether <paramref name="ev"/>'s data is exactly <c>[DONE]</c> (a chunk whose text says [DONE] is JSON, not this).</summary>
    private static bool IsDone(ReadOnlySpan<byte> ev) => Data(ev).SequenceEqual("[DONE]"u8);

    /// <summary>The first <c>data:</c> line's value, trimmed; empty when the event has none.</summary>
    internal static ReadOnlySpan<byte> Data(ReadOnlySpan<byte> ev) => Field(ev, "data:"u8);

    /// <summary>The value of the first line starting with <paramref name="name"/> (e.g. <c>event:</c>), trimmed; empty when absent.</summary>
    internal static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> ev, ReadOnlySpan<byte> name)
    {
        var at = ev.IndexOf(name);
        // A field name counts only at a line's start: "data:" inside JSON text is not a field.
        while (at > 0 && ev[at - 1] != (byte)'\n')
        {
            var next = ev[(at + 1)..].IndexOf(name);
            at = next < 0 ? -1 : at + 1 + next;
        }
        if (at < 0)
        {
            return default;
        }
        var value = ev[(at + name.Length)..];
        var lineEnd = value.IndexOf((byte)'\n');
        if (lineEnd >= 0)
        {
            value = value[..lineEnd];
        }
        return value.Trim(" \r"u8);
    }

    private static byte[] MakeRoom(byte[] buffer, ref int start, ref int end)
    {
        if (start > 0)
        {
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
            return buffer;
        }
        if (buffer.Length >= MaxEvent)
        {
            throw new InvalidDataException($"An upstream event exceeded {MaxEvent} bytes.");
        }
        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
        buffer.AsSpan(0, end).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }
}
