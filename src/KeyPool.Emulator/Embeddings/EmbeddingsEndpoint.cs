using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KeyPool.Emulator.Hosting;
using KeyPool.Emulator.Usage;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Embeddings;

/// <summary><c>POST /v1/embeddings</c>: small deterministic vectors and a usage block.</summary>
internal sealed class EmbeddingsEndpoint(EmulatorState state, InferenceGate gate)
{
    public const string Path = "/v1/embeddings";

    private const int Dimensions = 8;

    public async Task HandleAsync(Exchange exchange)
    {
        if (await gate.AuthorizeInferenceAsync(exchange) is not { } account)
        {
            return;
        }
        using var body = await JsonBody.ReadAsync(exchange);
        if (body is null)
        {
            return;
        }
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            var notAnObject = RequestError.NotAnObject();
            await exchange.FailAsync(notAnObject.Status, notAnObject.Message, "invalid_request");
            return;
        }
        RequestError?[] errors =
        [
            JsonFields.String(root, "model", required: true, out var model),
            ParseInputs(root, out var inputs),
            JsonFields.String(root, "user", required: false, out var user),
        ];
        exchange.User = user;
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            await exchange.FailAsync(error.Status, error.Message, "invalid_request");
            return;
        }
        exchange.Model = model;
        if (!await gate.CheckModelAsync(exchange, account, model!) || !await gate.PassFaultsAsync(exchange, account, model!))
        {
            return;
        }

        var tokens = TokenArithmetic.PromptTokens(inputs!.Sum(i => (long)i.Length), 0) + inputs!.Count;
        if (!await gate.AdmitAsync(exchange, account, model!, tokens))
        {
            return;
        }
        await state.DelayAsync(state.Options.Latency + state.Faults.FirstByteDelay, exchange.Aborted);
        var usage = new TokenUsage(tokens, 0, 0, 0);
        exchange.Usage = usage;
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            for (var i = 0; i < inputs.Count; i++)
            {
                json.WriteStartObject();
                json.WriteString("object", "embedding");
                json.WriteNumber("index", i);
                json.WriteStartArray("embedding");
                foreach (var value in Vector(inputs[i]))
                {
                    json.WriteNumberValue(value);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteString("model", model);
            json.WriteStartObject("usage");
            json.WriteNumber("prompt_tokens", tokens);
            json.WriteNumber("total_tokens", tokens);
            json.WriteNumber("cost_in_usd_ticks", usage.CostInUsdTicks);
            json.WriteEndObject();
            json.WriteEndObject();
        }, exchange.Aborted);
    }

    private static RequestError? ParseInputs(JsonElement root, out List<string>? inputs)
    {
        inputs = null;
        if (!root.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            return RequestError.Missing("input");
        }
        if (input.ValueKind == JsonValueKind.String)
        {
            inputs = [input.GetString() ?? ""];
            return null;
        }
        if (input.ValueKind != JsonValueKind.Array)
        {
            return RequestError.WrongType("input", "a string or an array of strings");
        }
        inputs = [];
        foreach (var item in input.EnumerateArray())
        {
            // Token-id arrays are accepted as text of their raw JSON; only the length matters here.
            inputs.Add(item.ValueKind == JsonValueKind.String ? item.GetString() ?? "" : item.GetRawText());
        }
        return inputs.Count == 0 ? RequestError.Invalid("input must not be empty.") : null;
    }

    private static float[] Vector(string text)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        var vector = new float[Dimensions];
        for (var i = 0; i < Dimensions; i++)
        {
            vector[i] = BinaryPrimitives.ReadInt32LittleEndian(hash.AsSpan(i * 4, 4)) / (float)int.MaxValue;
        }
        return vector;
    }
}
