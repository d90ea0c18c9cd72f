using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Emulator;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;
using Npgsql;

namespace KeyPool.Tests.Cluster;

/// <summary>
/// Three real <c>keypool serve</c> processes share one Redis and one store in front of one emulator with
/// per-team limits, under an offered load of three times the pool's capacity, with Redis stopped and
/// restarted mid-run: the upstream never answers 429, every client request succeeds or gets KeyPool's own
/// 429 with Retry-After, health says DEGRADED during the outage, each user has one group everywhere, and the
/// usage the three wrote adds up to what the upstream served.
/// </summary>
public sealed class ClusterLoadTests : IAsyncLifetime
{
    private const string AdminToken = "cluster-admin-token-0123456789";
    private const string ClientToken = "cluster-client-token-0123456789";
    private const int RequestsPerMinute = 120; // per team: 2 a second
    private const int Teams = 3;

    private readonly List<KeyPoolProcess> _instances = [];
    private RedisServer _redis = null!;
    private PostgresServer _postgres = null!;
    private string _database = "";
    private UpstreamEmulator _emulator = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _postgres = await PostgresServer.StartAsync();
        _database = await _postgres.CreateDatabaseAsync("cluster");
        var keys = Enumerable.Range(1, 4).Select(GatewayHarness.KeyFor).ToArray();
        var options = new EmulatorOptions { RequestsPerMinute = RequestsPerMinute, TokensPerMinute = 10_000_000 };
        foreach (var key in keys)
        {
            options.Keys.Add(key);
        }
        // Keys 1 and 2 share a team: three budgets in all.
        options.Teams[keys[0]] = "team-a";
        options.Teams[keys[1]] = "team-a";
        options.Teams[keys[2]] = "team-b";
        options.Teams[keys[3]] = "team-c";
        _emulator = await UpstreamEmulator.StartAsync(options);

        var environment = new Dictionary<string, string>
        {
            ["KeyPool__Upstream__BaseUrl"] = _emulator.BaseUrl.ToString(),
            ["KeyPool__AdminToken"] = AdminToken,
            ["KeyPool__ClientTokens__0"] = ClientToken,
            ["KeyPool__Keys__EnvPrefix"] = "CLUSTER_XAI_KEY",
            ["KeyPool__Budgets__RequestsPerMinute"] = RequestsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["KeyPool__Routing__MaxQueueWait"] = "00:00:01",
            // One PostgreSQL for all instances, migrated by whichever starts first (the others find it done).
            ["ConnectionStrings__KeyPool"] = _database,
            ["KeyPool__Migrate"] = "true",
            ["ConnectionStrings__Redis"] = _redis.ConnectionString,
            ["KeyPool__Cluster__Prefix"] = "kpcluster",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__KeyPool.Cluster"] = "Information",
            ["Logging__LogLevel__KeyPool.Core.Cluster"] = "Information",
        };
        for (var i = 0; i < keys.Length; i++)
        {
            environment[i == 0 ? "CLUSTER_XAI_KEY" : $"CLUSTER_XAI_KEY_{i + 1}"] = keys[i];
        }
        for (var i = 0; i < 3; i++)
        {
            // One after the other: the first creates the schema.
            _instances.Add(await KeyPoolProcess.StartAsync(environment, AdminToken));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }
        await _emulator.DisposeAsync();
        await _redis.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task ThreeInstances_ThreeTimesCapacity_RedisAndPostgresRestartedMidRun_NoUpstream429_NoFailure_StickyGroups()
    {
        // Every instance has heard the others before the load starts.
        await Poll.UntilAsync(async () => (await Task.WhenAll(_instances.Select(HealthAsync))).All(h => h.GetProperty("health").GetProperty("status").GetString() != "DEGRADED"), TimeSpan.FromSeconds(20));
        var users = Enumerable.Range(0, 24).Select(i => $"cluster-user-{i}").ToArray();
        var capacityPerSecond = Teams * RequestsPerMinute / 60.0;
        var offeredPerSecond = 3 * capacityPerSecond;
        var duration = TimeSpan.FromSeconds(24);
        var outcomes = new List<Task<(int Status, bool RetryAfter, string Body)>>();
        string? degradedStatus = null;
        var clock = Stopwatch.StartNew();
        var redisStopped = false;
        var redisRestarted = false;
        var postgresStopped = false;
        var postgresRestarted = false;
        for (var n = 0; clock.Elapsed < duration; n++)
        {
            var due = TimeSpan.FromSeconds(n / offeredPerSecond);
            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed);
            }
            if (!redisStopped && clock.Elapsed > TimeSpan.FromSeconds(7))
            {
                await _redis.StopAsync();
                redisStopped = true;
            }
            if (redisStopped && !redisRestarted && clock.Elapsed > TimeSpan.FromSeconds(11) && degradedStatus is null)
            {
                degradedStatus = (await HealthAsync(_instances[n % 3])).GetProperty("health").GetProperty("status").GetString();
            }
            if (redisStopped && !redisRestarted && clock.Elapsed > TimeSpan.FromSeconds(14))
            {
                await _redis.StartAgainAsync();
                redisRestarted = true;
            }
            // Every user has been seen by now (24 users, one every ~0.2 s): with the store down they flow from the cache.
            if (!postgresStopped && clock.Elapsed > TimeSpan.FromSeconds(16))
            {
                await _postgres.StopAsync();
                postgresStopped = true;
            }
            if (postgresStopped && !postgresRestarted && clock.Elapsed > TimeSpan.FromSeconds(19))
            {
                await _postgres.StartAgainAsync();
                postgresRestarted = true;
            }
            outcomes.Add(ChatAsync(_instances[n % 3], users[n % users.Length]));
        }
        var results = await Task.WhenAll(outcomes);

        var upstream429 = _emulator.Served.Count(s => s.Status == 429);
        Assert.True(upstream429 == 0, $"the upstream answered 429 {upstream429} times");
        var failures = results.Where(r => r.Status != 200 && !(r.Status == 429 && r.RetryAfter)).ToArray();
        Assert.True(failures.Length == 0, $"{failures.Length} of {results.Length} requests failed, e.g. {failures.FirstOrDefault()}");
        var served = results.Count(r => r.Status == 200);
        // The pool was kept busy: at least half its capacity over the run (outage and warm-up included).
        Assert.True(served >= capacityPerSecond * duration.TotalSeconds / 2, $"only {served} of {results.Length} requests served");
        Assert.True(results.Count(r => r.Status == 429) > 0, "the offered load was above capacity, some requests must be refused");
        Assert.Equal("DEGRADED", degradedStatus);

        // Resynchronised: all instances leave the fallback once Redis is back.
        await Poll.UntilAsync(async () => (await Task.WhenAll(_instances.Select(HealthAsync))).All(h => h.GetProperty("health").GetProperty("status").GetString() != "DEGRADED"), TimeSpan.FromSeconds(20));
        // No usage lost: what the instances flushed adds up to what the upstream served.
        var servedUpstream = _emulator.Served.Count(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await StoredRequestsAsync() != servedUpstream && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(servedUpstream, await StoredRequestsAsync());
        foreach (var user in users)
        {
            var groups = await Task.WhenAll(_instances.Select(i => GroupOfAsync(i, user)));
            Assert.True(groups.Distinct().Count() == 1, $"{user} has groups {string.Join(", ", groups)} on the three instances");
        }
    }

    private async Task<long> StoredRequestsAsync()
    {
        await using var connection = new NpgsqlConnection(_database + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COALESCE(SUM(total_requests), 0)::bigint FROM api_key_stats", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<(int Status, bool RetryAfter, string Body)> ChatAsync(KeyPoolProcess instance, string user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"grok-4.3","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ClientToken);
        request.Headers.Add("X-KeyPool-User", user);
        try
        {
            using var response = await instance.Http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, response.Headers.RetryAfter is not null, body.Length > 300 ? body[..300] : body);
        }
        catch (HttpRequestException e)
        {
            return (0, false, e.Message);
        }
    }

    private static async Task<JsonElement> HealthAsync(KeyPoolProcess instance)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/api-keys/health");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await instance.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<int> GroupOfAsync(KeyPoolProcess instance, string user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/users/{user}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await instance.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKeyGroup").GetInt32();
    }
}
