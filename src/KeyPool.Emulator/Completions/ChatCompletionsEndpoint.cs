using KeyPool.Emulator.Accounts;
using KeyPool.Emulator.Faults;
using KeyPool.Emulator.Hosting;
using KeyPool.Emulator.Logging;
using KeyPool.Emulator.Usage;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Completions;

/// <summary><c>POST /v1/chat/completions</c>, streaming or not.</summary>
internal sealed class ChatCompletionsEndpoint(EmulatorState state, InferenceGate gate)
{
    public const string Path = "/v1/chat/completions";

    // Neither JSON nor an SSE event: binary noise with no blank line, as from a confused proxy or a wrong port.
    private static readonly byte[] Garbage = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03, (byte)'<', (byte)'h', (byte)'t', (byte)'m', (byte)'l', (byte)'>', 0xFF, 0xFE, (byte)'\n', 0x00];

    public async Task HandleAsync(Exchange exchange)
    {
        if (await gate.AuthorizeInferenceAsync(exchange) is not { } account)
        {
            return;
        }
        if (await JsonBody.ReadAsync<ChatRequest>(exchange, ChatRequest.TryParse) is not { } request)
        {
            return;
        }
        exchange.Model = request.Model;
        exchange.Stream = request.Stream;
        exchange.User = request.User;
        if (!await gate.CheckModelAsync(exchange, account, request.Model) || !await gate.PassFaultsAsync(exchange, account, request.Model))
        {
            return;
        }

        var options = state.Options;
        var prompt = TokenArithmetic.PromptTokens(request.ContentChars, request.Messages.Count);
        var completion = TokenArithmetic.CompletionTokens(request.MaxTokens, options.CompletionTokens);
        var reasoning = TokenArithmetic.ReasoningTokens(request.Model, completion);
        if (!await gate.AdmitAsync(exchange, account, request.Model, prompt + completion + reasoning))
        {
            return;
        }
        var cached = state.PromptCache.Use(account.Key, exchange.ConversationId, prompt);
        var reply = new ChatReply(
            "chatcmpl-" + Guid.NewGuid().ToString("N"),
            state.TimeProvider.GetUtcNow().ToUnixTimeSeconds(),
            request.Model,
            ReplyText.Create(ReplyText.Fingerprint(request.Messages), completion),
            new TokenUsage(prompt, cached, completion, reasoning, options.ModelsWithoutCost.Contains(request.Model)));
        if (request.Deferred)
        {
            // Billed and counted now; the answer (and its usage) is handed out by one later poll.
            var requestId = state.Deferred.Add(account.Team, request.Model, reply);
            exchange.Record(StatusCodes.Status200OK, null);
            await JsonResponse.WriteAsync(exchange.Http.Response, json =>
            {
                json.WriteStartObject();
                json.WriteString("request_id", requestId);
                json.WriteEndObject();
            }, exchange.Aborted);
            return;
        }

        await state.DelayAsync(options.Latency + state.Faults.FirstByteDelay, exchange.Aborted);
        switch (state.Faults.TakeAnswerFault())
        {
            case AnswerFault.ResetBeforeFirstByte:
                exchange.Record(0, "reset_before_first_byte");
                exchange.Http.Abort();
                return;
            case AnswerFault.Garbled:
                exchange.Record(StatusCodes.Status200OK, "garbled");
                exchange.Http.Response.StatusCode = StatusCodes.Status200OK;
                exchange.Http.Response.ContentType = request.Stream ? "text/event-stream" : "application/json";
                await exchange.Http.Response.Body.WriteAsync(Garbage, exchange.Aborted);
                return;
        }
        exchange.Usage = reply.Usage;
        if (request.Stream)
        {
            await StreamAsync(exchange, account, reply, request.IncludeUsage);
        }
        else
        {
            exchange.Record(StatusCodes.Status200OK, null);
            await JsonResponse.WriteAsync(exchange.Http.Response, reply.WriteCompletion, exchange.Aborted);
        }
    }

    private async Task StreamAsync(Exchange exchange, KeyAccount account, ChatReply reply, bool includeUsage)
    {
        var (chunks, resetAfter, truncateAfter) = StreamPlan.Begin(state, exchange, reply.Content);
        var response = exchange.Http.Response;
        var ct = exchange.Aborted;
        var chunkDelay = state.Faults.ChunkDelay;
        using var events = new ServerSentEvents(response.BodyWriter);

        await events.WriteAsync(json => reply.WriteChunk(json, "assistant", "", null), ct);
        for (var i = 0; i <= chunks.Length; i++)
        {
            if (resetAfter == i)
            {
                EmulatorLog.ResetMidStream(state.Logger, account.Team, i);
                throw new InjectedStreamResetException(i);
            }
            if (truncateAfter == i)
            {
                return; // the answer ends cleanly, without finish chunk, usage or [DONE]
            }
            if (i == chunks.Length)
            {
                break;
            }
            await state.DelayAsync(chunkDelay, ct);
            var text = chunks[i];
            await events.WriteAsync(json => reply.WriteChunk(json, null, text, null), ct);
        }
        await state.DelayAsync(chunkDelay, ct);
        await events.WriteAsync(json => reply.WriteChunk(json, null, null, "stop"), ct);
        if (includeUsage)
        {
            await events.WriteAsync(reply.WriteUsageChunk, ct);
        }
        await events.WriteDoneAsync(ct);
    }
}
