using System.Security.Cryptography;
using System.Text;
using KeyPool.Emulator.Faults;
using KeyPool.Emulator.Hosting;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Accounts;

/// <summary>
/// <c>GET /v1/api-key</c>: xAI's self-description of the calling key. A revoked or blocked key still
/// gets 200 here, with the flag set, so a gateway can learn why its calls fail.
/// </summary>
internal sealed class ApiKeyEndpoint(EmulatorState state, InferenceGate gate)
{
    public const string Path = "/v1/api-key";

    private const string CreateTime = "2025-01-01T00:00:00Z";

    public async Task HandleAsync(Exchange exchange)
    {
        if (await gate.IdentifyAsync(exchange) is not { } account)
        {
            return;
        }
        var condition = state.Faults.ConditionOf(account.Key);
        var userId = StableId("user", account.Key);
        exchange.Record(StatusCodes.Status200OK, null);
        await JsonResponse.WriteAsync(exchange.Http.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("redacted_api_key", KeyRedaction.ForApiKeyInfo(account.Key));
            json.WriteString("user_id", userId);
            json.WriteString("name", $"emulator key {account.Position}");
            json.WriteString("create_time", CreateTime);
            json.WriteString("modify_time", CreateTime);
            json.WriteString("modified_by", userId);
            json.WriteString("team_id", account.Team);
            json.WriteStartArray("acls");
            if (state.Faults.DeniesAnyModel(account.Key))
            {
                foreach (var model in state.Models.Where(m => !state.Faults.Denies(account.Key, m)))
                {
                    json.WriteStringValue("api-key:model:" + model);
                }
            }
            else
            {
                json.WriteStringValue("api-key:model:*");
            }
            json.WriteStringValue("api-key:endpoint:*");
            json.WriteEndArray();
            json.WriteString("api_key_id", StableId("key", account.Key));
            json.WriteBoolean("team_blocked", false);
            json.WriteBoolean("api_key_blocked", condition == KeyCondition.Blocked);
            json.WriteBoolean("api_key_disabled", condition == KeyCondition.Revoked);
            json.WriteEndObject();
        }, exchange.Aborted);
    }

    // Derived from a hash so ids are stable per key without revealing it.
    private static string StableId(string purpose, string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(purpose + "\0" + key));
        return new Guid(hash.AsSpan(0, 16)).ToString();
    }
}
