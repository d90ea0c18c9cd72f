using KeyPool.Emulator.Accounts;
using KeyPool.Emulator.Completions;
using KeyPool.Emulator.Embeddings;
using KeyPool.Emulator.Models;
using KeyPool.Emulator.Responses;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KeyPool.Emulator.Hosting;

/// <summary>Maps the upstream's routes; anything else gets xAI's 404.</summary>
internal static class EmulatorEndpoints
{
    public static void MapEmulator(this IEndpointRouteBuilder app, EmulatorState state)
    {
        var gate = new InferenceGate(state);
        var chat = new ChatCompletionsEndpoint(state, gate);
        var responses = new ResponsesEndpoint(state, gate);
        var deferred = new DeferredCompletionEndpoint(state, gate);
        var embeddings = new EmbeddingsEndpoint(state, gate);
        var models = new ModelsEndpoint(state, gate);
        var apiKey = new ApiKeyEndpoint(state, gate);

        app.MapPost(ChatCompletionsEndpoint.Path, Handle(state, chat.HandleAsync));
        app.MapPost(ResponsesEndpoint.Path, Handle(state, responses.HandleAsync));
        app.MapGet(ResponsesEndpoint.Path + "/{id}", Handle(state, e => responses.GetAsync(e, RouteId(e))));
        app.MapDelete(ResponsesEndpoint.Path + "/{id}", Handle(state, e => responses.DeleteAsync(e, RouteId(e))));
        app.MapGet(DeferredCompletionEndpoint.Path + "/{id}", Handle(state, e => deferred.HandleAsync(e, RouteId(e))));
        app.MapPost(EmbeddingsEndpoint.Path, Handle(state, embeddings.HandleAsync));
        app.MapGet(ModelsEndpoint.Path, Handle(state, models.ListAsync));
        app.MapGet(ModelsEndpoint.Path + "/{id}", Handle(state, e => models.GetAsync(e, (string)e.Http.GetRouteValue("id")!)));
        app.MapGet(ApiKeyEndpoint.Path, Handle(state, apiKey.HandleAsync));
        app.MapFallback(Handle(state, NotFoundAsync));
    }

    private static string RouteId(Exchange exchange) => (string)exchange.Http.GetRouteValue("id")!;

    private static Task NotFoundAsync(Exchange exchange) =>
        exchange.FailAsync(404, $"No route matches {exchange.Http.Request.Method} {exchange.Http.Request.Path}.", "not_found");

    private static RequestDelegate Handle(EmulatorState state, Func<Exchange, Task> handler) => async http =>
    {
        using var exchange = new Exchange(http, state);
        // Like a real provider behind a CDN: headers a browser would act on, which a gateway must not pass to its clients.
        http.Response.Headers.SetCookie = "__cf_bm=emulator-session; path=/; domain=.api.example; HttpOnly; Secure";
        http.Response.Headers.AltSvc = "h3=\":443\"; ma=86400";
        try
        {
            await handler(exchange);
        }
        catch (OperationCanceledException) when (exchange.Aborted.IsCancellationRequested)
        {
            // The client went away (or the emulator is stopping): nothing left to answer.
            if (!exchange.Recorded)
            {
                exchange.Record(StatusCodes.Status499ClientClosedRequest, "cancelled");
            }
        }
    };
}
