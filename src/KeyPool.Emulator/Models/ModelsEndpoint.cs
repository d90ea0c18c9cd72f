using System.Text.Json;
using KeyPool.Emulator.Hosting;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Models;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>.</summary>
internal sealed class ModelsEndpoint(EmulatorState state, InferenceGate gate)
{
    public const string Path = "/v1/models";

    // A fixed date: model metadata does not move with the test clock.
    private const long CreatedUnixSeconds = 1_735_689_600;

    public async Task ListAsync(Exchange exchange)
    {
        if (!await AuthorizeAsync(exchange))
        {
            return;
        }
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            foreach (var model in state.Models)
            {
                WriteModel(json, model);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }, exchange.Aborted);
    }

    public async Task GetAsync(Exchange exchange, string id)
    {
        exchange.Model = id;
        if (!await AuthorizeAsync(exchange))
        {
            return;
        }
        if (!state.Models.Contains(id, StringComparer.Ordinal))
        {
            await exchange.FailAsync(404, $"The model {id} does not exist or your team does not have access to it.", "model_not_found");
            return;
        }
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, json => WriteModel(json, id), exchange.Aborted);
    }

    private async Task<bool> AuthorizeAsync(Exchange exchange) =>
        await gate.IdentifyAsync(exchange) is { } account && await gate.CheckStandingAsync(exchange, account, spends: false);

    private static void WriteModel(Utf8JsonWriter json, string model)
    {
        json.WriteStartObject();
        json.WriteString("id", model);
        json.WriteString("object", "model");
        json.WriteNumber("created", CreatedUnixSeconds);
        json.WriteString("owned_by", "xai");
        json.WriteEndObject();
    }
}
