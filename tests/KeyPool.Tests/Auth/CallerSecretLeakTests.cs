using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace KeyPool.Tests.Auth;

/// <summary>
/// Runs every way to call (good, revoked, forged, expired, throttled) and searches every response
/// and log line for gateway key secrets, JWTs, the JWT secret and upstream keys. The one response
/// allowed to show a gateway key is the one that issues it.
/// </summary>
public sealed class CallerSecretLeakTests
{
    [Fact]
    public async Task NoGatewayKeySecret_Jwt_OrUpstreamKey_InAnyResponseOrLogLine()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var settings = TestTokens.SupabaseSettings(adminRole: "service_role");
        settings["KeyPool:Auth:GatewayKeys:Enabled"] = "true";
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: settings, time: time);
        var seen = new StringBuilder();
        async Task SendAsync(HttpRequestMessage request)
        {
            using var response = await gateway.Http.SendAsync(request);
            seen.AppendLine(response.ToString());
            seen.AppendLine(await response.Content.ReadAsStringAsync());
        }

        using var issued = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users/leak-a/keys"));
        var issuedBody = await issued.Content.ReadFromJsonAsync<JsonElement>();
        var secret = issuedBody.GetProperty("key").GetString()!;
        var keyId = issuedBody.GetProperty("id").GetString()!;
        var token = TestTokens.Supabase("leak-b", time.GetUtcNow());
        var adminJwt = TestTokens.Supabase("ops", time.GetUtcNow(), role: "service_role");
        var expired = TestTokens.Supabase("leak-c", time.GetUtcNow() - TimeSpan.FromHours(3));

        await gateway.ChatClient(token: secret).CompleteChatAsync([new UserChatMessage("Hello")]);
        await gateway.ChatClient(token: token).CompleteChatAsync([new UserChatMessage("Hello")]);
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), "someone-else", token: secret));
        await SendAsync(gateway.ChatRequest("{broken", token: secret));
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), token: expired));
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), token: secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A')));
        await SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/users/leak-a/keys"));
        await SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/users/leak-a/keys", token: adminJwt));
        await SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: token));
        for (var i = 0; i < 7; i++)
        {
            await SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: secret));
        }
        time.Advance(TimeSpan.FromMinutes(1));
        await SendAsync(gateway.Admin(HttpMethod.Delete, $"/api/admin/users/leak-a/keys/{keyId}"));
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), token: secret));
        await gateway.App.StopAsync();

        var responses = seen.ToString();
        var logs = string.Join('\n', gateway.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception));
        Assert.Contains("Gateway key " + keyId, logs, StringComparison.Ordinal); // the capture works
        Assert.Contains("Failed authentication attempts", logs, StringComparison.Ordinal);
        foreach (var text in new[] { responses, logs })
        {
            Assert.DoesNotContain(secret[3..15], text, StringComparison.Ordinal);
            Assert.DoesNotContain(TestTokens.SupabaseSecret, text, StringComparison.Ordinal);
            foreach (var jwt in new[] { token, adminJwt, expired })
            {
                Assert.DoesNotContain(jwt.Split('.')[2], text, StringComparison.Ordinal);
            }
            foreach (var key in gateway.Keys)
            {
                Assert.DoesNotContain(key[..12], text, StringComparison.Ordinal);
            }
        }
    }
}
