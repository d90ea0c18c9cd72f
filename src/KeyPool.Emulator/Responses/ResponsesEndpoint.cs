using KeyPool.Emulator.Completions;
using KeyPool.Emulator.Hosting;
using KeyPool.Emulator.Usage;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Responses;

/// <summary>
/// <c>POST /v1/responses</c>, non-streaming only: enough for a gateway to forward and meter it.
/// Same gate, budget and token model as chat completions.
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
        if (request.Stream)
        {
            await exchange.FailAsync(400, "The emulator answers /v1/responses without streaming only.", "invalid_request");
            return;
        }
        if (!await gate.CheckModelAsync(exchange, account, request.Model) || !await gate.PassFaultsAsync(exchange, account, request.Model))
        {
            return;
        }

        var options = state.Options;
        var prompt = TokenArithmetic.PromptTokens(request.Messages.Sum(m => (long)m.Text.Length), request.Messages.Count);
        var completion = TokenArithmetic.CompletionTokens(request.MaxOutputTokens, options.CompletionTokens);
        var reasoning = TokenArithmetic.ReasoningTokens(request.Model, completion);
        if (!await gate.AdmitAsync(exchange, account, request.Model, prompt + completion + reasoning))
        {
            return;
        }
        var usage = new TokenUsage(prompt, state.PromptCache.Use(account.Key, exchange.ConversationId, prompt), completion, reasoning);
        var text = ReplyText.Create(ReplyText.Fingerprint(request.Messages), completion);
        var created = state.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        var id = Guid.NewGuid().ToString("N");

        await state.DelayAsync(options.Latency + state.Faults.FirstByteDelay, exchange.Aborted);
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("id", "resp_" + id);
            json.WriteString("object", "response");
            json.WriteNumber("created_at", created);
            json.WriteString("status", "completed");
            json.WriteString("model", request.Model);
            json.WriteStartArray("output");
            json.WriteStartObject();
            json.WriteString("type", "message");
            json.WriteString("id", "msg_" + id);
            json.WriteString("status", "completed");
            json.WriteString("role", "assistant");
            json.WriteStartArray("content");
            json.WriteStartObject();
            json.WriteString("type", "output_text");
            json.WriteString("text", text);
            json.WriteStartArray("annotations");
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            usage.WriteResponses(json);
            json.WriteEndObject();
        }, exchange.Aborted);
    }
}
