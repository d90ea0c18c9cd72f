using System.Text.Json;
using KeyPool.Emulator.Accounts;
using KeyPool.Emulator.Completions;
using KeyPool.Emulator.Hosting;
using KeyPool.Emulator.Usage;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Responses;

/// <summary>
/// <c>POST /v1/responses</c> (whole or streamed), <c>GET</c> and <c>DELETE /v1/responses/{id}</c>. Same gate,
/// budget and token model as chat completions. Stored responses belong to the team whose key created them:
/// through another team's key they do not exist (404), as on xAI.
/// </summary>
internal sealed class ResponsesEndpoint(EmulatorState state, InferenceGate gate)
{
    public const string Path = "/v1/responses";

    public async Task HandleAsync(Exchange exchange)
    {
        if (await gate.AuthorizeInferenceAsync(exchange) is not { } account)
        {
            return;
        }
        if (await JsonBody.ReadAsync<ResponsesRequest>(exchange, ResponsesRequest.TryParse) is not { } request)
        {
            return;
        }
        exchange.Model = request.Model;
        exchange.Stream = request.Stream;
        exchange.User = request.User;
        exchange.ConversationId ??= request.PromptCacheKey;
        if (!await gate.CheckModelAsync(exchange, account, request.Model) || !await gate.PassFaultsAsync(exchange, account, request.Model))
        {
            return;
        }
        IReadOnlyList<(string Role, string Text)> history = [];
        if (request.PreviousResponseId is { } previousId)
        {
            if (state.Responses.Find(previousId, account.Team) is not { } previous)
            {
                await NotFoundAsync(exchange, previousId);
                return;
            }
            history = previous.Conversation;
        }

        var options = state.Options;
        var messages = request.Prompt(history);
        var prompt = TokenArithmetic.PromptTokens(messages.Sum(m => (long)m.Text.Length), messages.Count);
        var completion = TokenArithmetic.CompletionTokens(request.MaxOutputTokens, options.CompletionTokens);
        var reasoning = TokenArithmetic.ReasoningTokens(request.Model, completion);
        if (!await gate.AdmitAsync(exchange, account, request.Model, prompt + completion + reasoning))
        {
            return;
        }
        // The continued conversation is billed again, mostly from the cache that its earlier turns filled.
        var historyTokens = history.Count == 0 ? 0 : TokenArithmetic.PromptTokens(history.Sum(m => (long)m.Text.Length), history.Count);
        var cached = Math.Min(prompt, Math.Max(historyTokens, state.PromptCache.Use(account.Key, exchange.ConversationId, prompt)));
        var text = ReplyText.Create(ReplyText.Fingerprint(messages), completion);
        var reply = new ResponseReply(
            "resp_" + Guid.NewGuid().ToString("N"),
            state.TimeProvider.GetUtcNow().ToUnixTimeSeconds(),
            request,
            text,
            new TokenUsage(prompt, cached, completion, reasoning, options.ModelsWithoutCost.Contains(request.Model)));

        await state.DelayAsync(options.Latency + state.Faults.FirstByteDelay, exchange.Aborted);
        exchange.Usage = reply.Usage;
        if (request.Stream)
        {
            await new ResponseStreamWriter(state, exchange, account).StreamAsync(reply, () => Store(account, request, history, reply));
            return;
        }
        var json = Store(account, request, history, reply);
        exchange.Record(StatusCodes.Status200OK, null);
        await WriteJsonAsync(exchange.Http.Response, json, exchange.Aborted);
    }

    public async Task GetAsync(Exchange exchange, string id)
    {
        if (await FindAsync(exchange, id) is { } stored)
        {
            exchange.Record(StatusCodes.Status200OK, null);
            await WriteJsonAsync(exchange.Http.Response, stored.Json, exchange.Aborted);
        }
    }

    public async Task DeleteAsync(Exchange exchange, string id)
    {
        if (await FindAsync(exchange, id) is not { } stored || !state.Responses.Delete(id, stored.Team))
        {
            if (!exchange.Recorded)
            {
                await NotFoundAsync(exchange, id);
            }
            return;
        }
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("object", "response");
            json.WriteBoolean("deleted", true);
            json.WriteEndObject();
        }, exchange.Aborted);
    }

    private async Task<StoredResponse?> FindAsync(Exchange exchange, string id)
    {
        if (await gate.IdentifyAsync(exchange) is not { } account || !await gate.CheckStandingAsync(exchange, account, spends: false))
        {
            return null;
        }
        if (state.Responses.Find(id, account.Team) is { } stored)
        {
            return stored;
        }
        await NotFoundAsync(exchange, id);
        return null;
    }

    /// <summary>The completed answer's JSON, kept (when <c>store</c>) with the conversation it ends.</summary>
    private byte[] Store(KeyAccount account, ResponsesRequest request, IReadOnlyList<(string Role, string Text)> history, ResponseReply reply)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(2048);
        using (var json = new Utf8JsonWriter(buffer))
        {
            reply.WriteResponse(json, completed: true);
        }
        var bytes = buffer.WrittenSpan.ToArray();
        if (request.Store)
        {
            List<(string Role, string Text)> conversation = [.. history, .. request.Input, ("assistant", reply.Text)];
            state.Responses.Add(account.Team, reply.Id, bytes, conversation);
        }
        return bytes;
    }

    private static Task NotFoundAsync(Exchange exchange, string id) =>
        exchange.FailAsync(404, $"Response with id '{id}' not found.", "not_found");

    private static async Task WriteJsonAsync(HttpResponse response, byte[] json, CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.ContentLength = json.Length;
        await response.Body.WriteAsync(json, cancellationToken);
    }
}
