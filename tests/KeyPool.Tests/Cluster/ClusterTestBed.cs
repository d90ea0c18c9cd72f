using System.Globalization;
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
/// Real <c>keypool serve</c> processes on fixed loopback ports sharing one PostgreSQL and one Redis, in front of one
/// in-process emulator; each instance can be stopped (SIGTERM), killed (SIGKILL) and started again on its port, so a
/// load balancer in front keeps its upstream list. Everything is stopped on dispose.
/// </summary>
internal sealed class ClusterTestBed : IAsyncDisposable
{
    public const string AdminToken = "cluster-admin-token-0123456789";
    public const string ClientToken = "cluster-client-token-0123456789";

    private readonly Dictionary<string, string> _environment;
    private readonly KeyPoolProcess?[] _instances;

    private ClusterTestBed(RedisServer redis, PostgresServer postgres, string database, UpstreamEmulator emulator, Dictionary<string, string> environment, int[] ports)
    {
        Redis = redis;
        Postgres = postgres;
        Database = database;
        Emulator = emulator;
        _environment = environment;
        Ports = ports;
        _instances = new KeyPoolProcess?[ports.Length];
    }

    public RedisServer Redis { get; }

    public PostgresServer Postgres { get; }

    /// <summary>The connection string of the shared database.</summary>
    public string Database { get; }

    public UpstreamEmulator Emulator { get; }

    public IReadOnlyList<int> Ports { get; }

    public KeyPoolProcess Instance(int index) => _instances[index] ?? throw new InvalidOperationException($"instance {index} is not running");

    public static async Task<ClusterTestBed> StartAsync(int instances, int keys, Action<EmulatorOptions>? configureEmulator = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        RedisServer? redis = null;
        PostgresServer? postgres = null;
        UpstreamEmulator? emulator = null;
        try
        {
            redis = await RedisServer.StartAsync();
            postgres = await PostgresServer.StartAsync();
            var database = await postgres.CreateDatabaseAsync("cluster");
            var keyList = Enumerable.Range(1, keys).Select(GatewayHarness.KeyFor).ToArray();
            var options = new EmulatorOptions();
            configureEmulator?.Invoke(options);
            foreach (var key in keyList)
            {
                options.Keys.Add(key);
            }
            emulator = await UpstreamEmulator.StartAsync(options);
            var environment = new Dictionary<string, string>
            {
                ["KeyPool__Upstream__BaseUrl"] = emulator.BaseUrl.ToString(),
                ["KeyPool__AdminToken"] = AdminToken,
                ["KeyPool__ClientTokens__0"] = ClientToken,
                ["KeyPool__Keys__EnvPrefix"] = "CLUSTERBED_XAI_KEY",
                ["ConnectionStrings__KeyPool"] = database,
                ["KeyPool__Migrate"] = "true",
                ["ConnectionStrings__Redis"] = redis.ConnectionString,
                ["KeyPool__Cluster__Prefix"] = "kpbed",
                ["Logging__LogLevel__Default"] = "Warning",
                ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            };
            for (var i = 0; i < keyList.Length; i++)
            {
                environment[i == 0 ? "CLUSTERBED_XAI_KEY" : $"CLUSTERBED_XAI_KEY_{i + 1}"] = keyList[i];
            }
            foreach (var (name, value) in settings ?? new Dictionary<string, string>())
            {
                environment[name] = value;
            }
            var bed = new ClusterTestBed(redis, postgres, database, emulator, environment, Enumerable.Range(0, instances).Select(_ => FreeTcpPort.Next()).ToArray());
            try
            {
                for (var i = 0; i < instances; i++)
                {
                    // One after the other: the first creates the schema.
                    await bed.StartInstanceAsync(i);
                }
            }
            catch
            {
                await bed.DisposeAsync();
                throw;
            }
            return bed;
        }
        catch when (emulator is null || redis is null || postgres is null)
        {
            if (emulator is not null)
            {
                await emulator.DisposeAsync();
            }
            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>Starts instance <paramref name="index"/> (again) on its port; returns once it answers health.</summary>
    public async Task<KeyPoolProcess> StartInstanceAsync(int index)
    {
        if (_instances[index] is { } old)
        {
            await old.DisposeAsync();
        }
        _instances[index] = null;
        var instance = await KeyPoolProcess.StartAsync(_environment, AdminToken, Ports[index]);
        _instances[index] = instance;
        return instance;
    }

    /// <summary>SIGTERM, then waits for the drain and the last flush; false when it had not exited within <paramref name="timeout"/>.</summary>
    public async Task<bool> TerminateAsync(int index, TimeSpan timeout)
    {
        var instance = Instance(index);
        await instance.SignalAsync("TERM");
        return await instance.WaitForExitAsync(timeout);
    }

    /// <summary>SIGKILL: nothing runs, nothing is flushed.</summary>
    public async Task KillAsync(int index)
    {
        var instance = Instance(index);
        instance.KillHard();
        await instance.WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public static HttpRequestMessage Chat(string user, bool stream)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(GatewayHarness.ChatBody(stream: stream), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ClientToken);
        request.Headers.Add("X-KeyPool-User", user);
        return request;
    }

    /// <summary>One chat request, its body read to the end (a stream must end with <c>[DONE]</c>); status 0 when the connection failed.</summary>
    public static async Task<(int Status, string Body)> SendChatAsync(HttpClient http, string user, bool stream)
    {
        using var request = Chat(user, stream);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var body = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            if (status == 200 && stream && !body.Contains("[DONE]", StringComparison.Ordinal))
            {
                return (-1, "stream cut: " + Tail(body));
            }
            return (status, Tail(body));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            return (0, e.InnerException is { } inner ? $"{e.Message} ({inner.GetType().Name}: {inner.Message})" : e.Message);
        }
    }

    public static async Task<JsonElement> HealthAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/api-keys/health");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The pool's requests per an instance's health: the sum of <c>keyGroupStats[].total_requests</c>.</summary>
    public static long TotalRequests(JsonElement health) =>
        health.GetProperty("keyGroupStats").EnumerateArray().Sum(s => s.GetProperty("total_requests").GetInt64());

    /// <summary>Requests in the shared store's <c>api_key_stats</c>.</summary>
    public async Task<long> StoredRequestsAsync()
    {
        await using var connection = new NpgsqlConnection(Database + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COALESCE(SUM(total_requests), 0)::bigint FROM api_key_stats", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Chat attempts that reached the emulator, whatever their end.</summary>
    public int UpstreamChatAttempts => Emulator.Served.Count(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

    public int Upstream429s => Emulator.Served.Count(s => s.Status == 429);

    public static string Seconds(TimeSpan? time) => time is { } t ? t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s" : "never";

    private static string Tail(string body) => body.Length > 300 ? body[..300] : body;

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            if (instance is not null)
            {
                await instance.DisposeAsync();
            }
        }
        await Emulator.DisposeAsync();
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
