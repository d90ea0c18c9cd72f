using KeyPool.Emulator.Accounts;
using KeyPool.Emulator.Completions;
using KeyPool.Emulator.Hosting;
using KeyPool.Emulator.Logging;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Responses;

/// <summary>
/// A streamed /v1/responses answer in xAI's order: <c>response.created</c>, <c>response.in_progress</c>, the message
/// item and its text part added, the text deltas, the <c>…done</c> events, then <c>response.completed</c> carrying
/// the whole response with usage. The stream faults (reset, truncation) cut it before <c>response.completed</c>.
/// </summary>
internal sealed class ResponseStreamWriter(EmulatorState state, Exchange exchange, KeyAccount account)
{
    public async Task StreamAsync(ResponseReply reply, Func<byte[]> complete)
    {
        var (chunks, resetAfter, truncateAfter) = StreamPlan.Begin(state, exchange, reply.Text);
        var response = exchange.Http.Response;
        var ct = exchange.Aborted;
        var chunkDelay = state.Faults.ChunkDelay;
        using var sse = new ServerSentEvents(response.BodyWriter);
        var events = new ResponseEvents(sse);

        await events.WriteResponseAsync("response.created", reply, completed: false, ct);
        await events.WriteResponseAsync("response.in_progress", reply, completed: false, ct);
        await events.WriteAsync("response.output_item.added", json =>
        {
            json.WriteNumber("output_index", 0);
            json.WritePropertyName("item");
            reply.WriteMessageItem(json, completed: false);
        }, ct);
        await events.WritePartAsync("response.content_part.added", reply, json =>
        {
            json.WritePropertyName("part");
            ResponseReply.WriteTextPart(json, "");
        }, ct);
        for (var i = 0; i < chunks.Length; i++)
        {
            if (resetAfter == i)
            {
                EmulatorLog.ResetMidStream(state.Logger, account.Team, i);
                throw new InjectedStreamResetException(i);
            }
            if (truncateAfter == i)
            {
                return; // the answer ends cleanly, without the done events or response.completed
            }
            await state.DelayAsync(chunkDelay, ct);
            var delta = chunks[i];
            await events.WritePartAsync("response.output_text.delta", reply, json =>
            {
                json.WriteString("delta", delta);
                json.WriteStartArray("logprobs");
                json.WriteEndArray();
            }, ct);
        }
        if (resetAfter == chunks.Length)
        {
            EmulatorLog.ResetMidStream(state.Logger, account.Team, chunks.Length);
            throw new InjectedStreamResetException(chunks.Length);
        }
        if (truncateAfter == chunks.Length)
        {
            return;
        }
        await state.DelayAsync(chunkDelay, ct);
        await events.WritePartAsync("response.output_text.done", reply, json =>
        {
            json.WriteString("text", reply.Text);
            json.WriteStartArray("logprobs");
            json.WriteEndArray();
        }, ct);
        await events.WritePartAsync("response.content_part.done", reply, json =>
        {
            json.WritePropertyName("part");
            ResponseReply.WriteTextPart(json, reply.Text);
        }, ct);
        await events.WriteAsync("response.output_item.done", json =>
        {
            json.WriteNumber("output_index", 0);
            json.WritePropertyName("item");
            reply.WriteMessageItem(json, completed: true);
        }, ct);
        complete();
        await events.WriteResponseAsync("response.completed", reply, completed: true, ct);
    }
}
