using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using OpenAI.Chat;

namespace KeyPool.Tests.Auth;

/// <summary>Per-user gateway keys: issued by the admin API, used with the OpenAI SDK, revoked at once.</summary>
public sealed class GatewayKeyTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 5, settings: new Dictionary<string, string?>
    {
        ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private Task<JsonElement> IssueAsync(string user) => _gateway.IssueGatewayKeyAsync(user);

    private HttpRequestMessage Chat(string key, string? userHeader = null) => _gateway.ChatRequest(GatewayHarness.ChatBody(), userHeader, token: key);

    [Fact]
    public async Task Issue_Returns201_WithTheKeyOnce()
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users/alice/keys"));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var key = body.GetProperty("key").GetString()!;
        Assert.StartsWith("kp-", key, StringComparison.Ordinal);
        Assert.Equal(46, key.Length);
        Assert.Equal("alice", body.GetProperty("userId").GetString());
        Assert.StartsWith("gk_", body.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.True(body.TryGetProperty("createdAt", out _));
        Assert.EndsWith($"/api/admin/users/alice/keys/{body.GetProperty("id").GetString()}", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_WorksWithTheOpenAiSdk_AsItsUser_WithoutAUserHeader()
    {
        var key = (await IssueAsync("alice")).GetProperty("key").GetString()!;

        var completion = await _gateway.ChatClient(token: key).CompleteChatAsync([new UserChatMessage("Hello")]);
        var streamed = new StringBuilder();
        await foreach (var update in _gateway.ChatClient(token: key).CompleteChatStreamingAsync([new UserChatMessage("Hello")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        Assert.False(string.IsNullOrEmpty(completion.Value.Content[0].Text));
        Assert.NotEqual(0, streamed.Length);
        var group = await _gateway.GroupOfAsync("alice"); // registered when the key was issued
        Assert.Equal([group, group], _gateway.GroupsThatServed("alice"));
    }

    [Fact]
    public async Task Key_WithAHeaderNamingAnotherUser_StillActsAsItsOwnUser()
    {
        var key = (await IssueAsync("alice")).GetProperty("key").GetString()!;

        using var response = await _gateway.Http.SendAsync(Chat(key, userHeader: "bob"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_gateway.GroupsThatServed("alice"));
        Assert.Empty(_gateway.GroupsThatServed("bob"));
        using var bob = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users/bob"));
        Assert.Equal(HttpStatusCode.NotFound, bob.StatusCode); // never registered, never served
    }

    [Fact]
    public async Task RevokedKey_Gets401_AtOnce_EvenAfterItWasCached()
    {
        var issued = await IssueAsync("alice");
        var key = issued.GetProperty("key").GetString()!;
        using (var warm = await _gateway.Http.SendAsync(Chat(key)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        using var revoke = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Delete, $"/api/admin/users/alice/keys/{issued.GetProperty("id").GetString()}"));
        using var after = await _gateway.Http.SendAsync(Chat(key));

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        var error = (await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task List_ShowsPrefixAndState_NeverTheSecret()
    {
        var first = await IssueAsync("alice");
        var second = await IssueAsync("alice");
        await IssueAsync("carol");
        using (await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Delete, $"/api/admin/users/alice/keys/{first.GetProperty("id").GetString()}")))
        {
        }

        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users/alice/keys"));
        var text = await response.Content.ReadAsStringAsync();
        var keys = JsonDocument.Parse(text).RootElement.GetProperty("keys").EnumerateArray().ToArray();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([first.GetProperty("id").GetString(), second.GetProperty("id").GetString()], keys.Select(k => k.GetProperty("id").GetString()));
        Assert.True(keys[0].GetProperty("revoked").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, keys[0].GetProperty("revokedAt").ValueKind);
        Assert.False(keys[1].GetProperty("revoked").GetBoolean());
        var secret = second.GetProperty("key").GetString()!;
        Assert.Equal(secret[..7] + "…", keys[1].GetProperty("prefix").GetString());
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(first.GetProperty("key").GetString()!, text, StringComparison.Ordinal);
        Assert.DoesNotContain("key\"", text.Replace("\"keys\"", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_UnknownKey_OrAnotherUsersKey_Is404()
    {
        var carols = await IssueAsync("carol");

        using var unknown = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Delete, "/api/admin/users/alice/keys/gk_nothing"));
        using var notHers = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Delete, $"/api/admin/users/alice/keys/{carols.GetProperty("id").GetString()}"));
        using var stillWorks = await _gateway.Http.SendAsync(Chat(carols.GetProperty("key").GetString()!));

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, notHers.StatusCode);
        Assert.Equal("gateway_key_not_found", (await notHers.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
    }

    [Fact]
    public async Task Store_HoldsOnlyTheHash()
    {
        var issued = await IssueAsync("alice");
        var secret = issued.GetProperty("key").GetString()!;

        await using var connection = new SqliteConnection($"Data Source={_gateway.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM gateway_keys;";
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), (byte[])reader["key_hash"]);
        Assert.Equal(issued.GetProperty("id").GetString(), reader["id"]);
        for (var i = 0; i < reader.FieldCount; i++)
        {
            var value = reader.GetValue(i);
            var text = value is byte[] bytes ? Encoding.UTF8.GetString(bytes) + Convert.ToBase64String(bytes) : value.ToString()!;
            Assert.DoesNotContain(secret[3..15], text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UnknownOrMalformedKey_Is401()
    {
        foreach (var key in new[] { "kp-" + new string('A', 43), "kp-short", "kp-" + new string('A', 42) + "!" })
        {
            using var response = await _gateway.Http.SendAsync(Chat(key, userHeader: "alice"));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task GatewayKeyAndClientToken_NeverOpenAdminRoutes()
    {
        var key = (await IssueAsync("alice")).GetProperty("key").GetString()!;

        foreach (var token in new[] { key, GatewayHarness.ClientToken })
        {
            foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/admin/api-keys/health"), (HttpMethod.Get, "/api/admin/users/alice/keys"), (HttpMethod.Post, "/api/admin/users/alice/keys") })
            {
                using var response = await _gateway.Http.SendAsync(_gateway.Admin(method, path, token: token));
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Equal("invalid_admin_token", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
            }
        }
    }

    [Fact]
    public async Task ClientTokens_StillWork_BesideGatewayKeys()
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), "dave"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_gateway.GroupsThatServed("dave"));
    }
}

/// <summary>Gateway keys switched off (the default).</summary>
public sealed class GatewayKeysOffTests
{
    [Fact]
    public async Task KeyEndpoints_Are404_AndKeysAreNotAccepted()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);

        using var issue = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users/alice/keys"));
        using var chat = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "alice", token: "kp-" + new string('A', 43)));

        Assert.Equal(HttpStatusCode.NotFound, issue.StatusCode);
        Assert.Equal("gateway_keys_disabled", (await issue.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, chat.StatusCode);
    }
}
