using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;
using Npgsql;

namespace KeyPool.Tests.Storage;

/// <summary>The gateway on a real PostgreSQL server: chosen by the connection string, migrated by --migrate, and answering 503 to sign-ups while the server is down.</summary>
public sealed class PostgresGatewayTests : IAsyncLifetime
{
    // Real processes and a real PostgreSQL: a condition waited for is polled up to this.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private PostgresServer _server = null!;
    private string _connectionString = null!;
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        try
        {
            _connectionString = await _server.CreateDatabaseAsync();
            _gateway = await GatewayHarness.StartAsync(keyCount: 4, settings: new Dictionary<string, string?>
            {
                ["ConnectionStrings:KeyPool"] = _connectionString,
                ["KeyPool:Migrate"] = "true",
                ["KeyPool:Usage:FlushInterval"] = "00:00:00.100",
                ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
            });
        }
        catch
        {
            // xUnit does not call DisposeAsync when InitializeAsync fails: the server must not outlive the test.
            await _server.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task SignUpsRequestsAndUsage_LandInPostgres_AndUsableGroupsArePublished()
    {
        using var created = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "u1" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var (status, _, _) = await _gateway.ChatAsync("u2");
        Assert.Equal(200, status);

        Assert.Equal(2L, await ScalarAsync<long>("SELECT count(*) FROM user_profiles WHERE id IN ('u1', 'u2') AND api_key_group BETWEEN 1 AND 4;"));
        Assert.Equal(1, await ScalarAsync<int>("SELECT get_next_api_key_group();") is var next && next is >= 1 and <= 4 ? 1 : 0);
        await Poll.UntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM api_key_groups WHERE usable;") == 4, Bound);
        await Poll.UntilAsync(async () => await ScalarAsync<long>("SELECT COALESCE(sum(total_requests), 0)::bigint FROM api_key_stats;") == 1, Bound);
        await Poll.UntilAsync(async () => await ScalarAsync<long>("SELECT COALESCE(sum(requests), 0)::bigint FROM user_usage_daily WHERE user_id = 'u2' AND total_tokens > 0;") == 1, Bound);
    }

    [Fact]
    public async Task DatabaseDown_SignUpsAre503InOpenAiShape_KnownUsersStillServed_AndBackAfterRestart()
    {
        using (var created = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "known" })))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        var usersBefore = await HealthUserCountAsync();
        var usedKey = (await _gateway.IssueGatewayKeyAsync("known")).GetProperty("key").GetString()!;
        var unusedKey = (await _gateway.IssueGatewayKeyAsync("known")).GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await ChatWithKeyAsync(usedKey)); // now in the cache

        await _server.StopAsync();

        // A gateway key used before is checked from the cache; one never seen needs the store: a clear 503, not a 500 or a 401.
        Assert.Equal(HttpStatusCode.OK, await ChatWithKeyAsync(usedKey));
        using (var firstUse = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), token: unusedKey)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, firstUse.StatusCode);
            Assert.Contains("store_unavailable", await firstUse.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The health endpoint is needed most while the store is down: it answers with the last known user counts and says so.
        using (var health = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health")))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var body = await health.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(JsonValueKind.String, body.GetProperty("pool").GetProperty("user_counts_stale_since").ValueKind);
            Assert.Equal(usersBefore, body.GetProperty("keyGroupStats").EnumerateArray().Sum(g => g.GetProperty("user_count").GetInt64()));
        }

        using var refused = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "newcomer" }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("5", refused.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var error = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("store_unavailable", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Contains("database is unavailable", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(_connectionString, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A user already in the cache is looked up and served without the database.
        using var lookedUp = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users/known"));
        Assert.Equal(HttpStatusCode.OK, lookedUp.StatusCode);
        Assert.Equal(JsonValueKind.Null, (await lookedUp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage").ValueKind); // unknown, not partial
        Assert.Equal(200, (await _gateway.ChatAsync("known")).Status);
        var stranger = await _gateway.ChatAsync("stranger"); // a new user needs the store: 503, not 500
        Assert.Equal(503, stranger.Status);
        Assert.Contains("store_unavailable", stranger.Body, StringComparison.Ordinal);

        await _server.StartAgainAsync();

        // The first call after the restart may meet a pooled connection the restart broke; the next one works.
        await Poll.UntilAsync(async () =>
        {
            using var again = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "newcomer" }));
            return again.StatusCode == HttpStatusCode.Created;
        }, Bound);
        // The usage per user counted while the store was down was kept in memory and is written now:
        // three requests of "known" (its gateway key before and during the outage, then the header during it).
        await Poll.UntilAsync(async () => await ScalarAsync<long>("SELECT COALESCE(sum(requests), 0)::bigint FROM user_usage_daily WHERE user_id = 'known';") == 3, Bound);
    }

    private async Task<HttpStatusCode> ChatWithKeyAsync(string key)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), token: key));
        return response.StatusCode;
    }

    private async Task<long> HealthUserCountAsync()
    {
        using var health = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var body = await health.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("pool").TryGetProperty("user_counts_stale_since", out var stale) && stale.ValueKind != JsonValueKind.Null);
        return body.GetProperty("keyGroupStats").EnumerateArray().Sum(g => g.GetProperty("user_count").GetInt64());
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
