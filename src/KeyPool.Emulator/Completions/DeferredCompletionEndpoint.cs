using KeyPool.Emulator.Hosting;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Completions;

/// <summary>
/// <c>GET /v1/chat/deferred-completion/{request_id}</c>: 202 while pending, then 200 with the whole completion, once.
/// Another team's key, an unknown or an already fetched id get 404. Each poll counts as a request against the chat limits.
/// </summary>
internal sealed class DeferredCompletionEndpoint(EmulatorState state, InferenceGate gate)
{
    public const string Path = "/v1/chat/deferred-completion";

    public async Task HandleAsync(Exchange exchange, string requestId)
    {
        if (await gate.IdentifyAsync(exchange) is not { } account || !await gate.CheckStandingAsync(exchange, account, spends: false))
        {
            return;
        }
        if (state.Deferred.ModelOf(requestId, account.Team) is not { } model)
        {
            await exchange.FailAsync(404, $"No deferred completion {requestId} for team {account.Team}.", "not_found");
            return;
        }
        exchange.Model = model;
        if (!await gate.AdmitAsync(exchange, account, model, tokens: 0))
        {
            return;
        }
        if (state.Deferred.TakeIfReady(requestId) is not { } reply)
        {
            exchange.Record(StatusCodes.Status202Accepted, null);
            exchange.Http.Response.StatusCode = StatusCodes.Status202Accepted;
            exchange.Http.Response.ContentLength = 0;
            return;
        }
        exchange.Usage = reply.Usage;
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, reply.WriteCompletion, exchange.Aborted);
    }
}
