using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Emulator;
using KeyPool.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// A real <c>keypool serve</c> child process on a SQLite file of its own, in front of an in-process emulator; the
/// process can be killed or signalled and started again on the same file.
/// </summary>
internal sealed class ProcessTestBed : IAsyncDisposable
{
    public const string AdminToken = "reliability-admin-token-0123456789";
    public const string ClientToken = "reliability-client-token-0123456789";

    private readonly string _directory;
    private readonly Dictionary<string, string> _environment;

    private ProcessTestBed(UpstreamEmulator emulator, string directory, Dictionary<string, string> environment, IReadOnlyList<string> keys)
    {
        Emulator = emulator;
        _directory = directory;
        _environment = environment;
        Keys = keys;
    }

    public UpstreamEmulator Emulator { get; }

    public IReadOnlyList<string> Keys { get; }

    public KeyPoolProcess? Gateway { get; private set; }

    public string DatabasePath => Path.Combine(_directory, "keypool.db");

    public static async Task<ProcessTestBed> StartAsync(int keyCount, IReadOnlyDictionary<string, string> settings, Action<EmulatorOptions>? configureEmulator = null)
    {
        var keys = Enumerable.Range(1, keyCount).Select(GatewayHarness.KeyFor).ToArray();
        var options = new EmulatorOptions();
        configureEmulator?.Invoke(options);
        foreach (var key in keys)
        {
            options.Keys.Add(key);
        }
        var emulator = await UpstreamEmulator.StartAsync(options);
        var directory = Directory.CreateTempSubdirectory("keypool-reliability-").FullName;
        var environment = new Dictionary<string, string>
        {
            ["KeyPool__Upstream__BaseUrl"] = emulator.BaseUrl.ToString(),
            ["KeyPool__AdminToken"] = AdminToken,
            ["KeyPool__ClientTokens__0"] = ClientToken,
            ["KeyPool__Keys__EnvPrefix"] = "RELIABILITY_XAI_KEY",
            ["ConnectionStrings__KeyPool"] = $"Data Source={Path.Combine(directory, "keypool.db")}",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["Logging__LogLevel__KeyPool.Usage"] = "Debug",
        };
        for (var i = 0; i < keys.Length; i++)
        {
            environment[i == 0 ? "RELIABILITY_XAI_KEY" : $"RELIABILITY_XAI_KEY_{i + 1}"] = keys[i];
        }
        foreach (var (name, value) in settings)
        {
            environment[name] = value;
        }
        return new ProcessTestBed(emulator, directory, environment, keys);
    }

    /// <summary>Starts (or starts again, on the same file) the gateway process.</summary>
    public async Task<KeyPoolProcess> StartGatewayAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        Gateway = await KeyPoolProcess.StartAsync(_environment, AdminToken);
        return Gateway;
    }

    public static HttpRequestMessage Chat(string user, bool stream)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(GatewayHarness.ChatBody(stream: stream), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ClientToken);
        request.Headers.Add("X-KeyPool-User", user);
        return request;
    }

    public static HttpRequestMessage Admin(HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        return request;
    }

    /// <summary>The user's group per the running gateway, or null when it does not know the user.</summary>
    public async Task<int?> GroupOfAsync(string user)
    {
        using var response = await Gateway!.Http.SendAsync(Admin(HttpMethod.Get, $"/api/admin/users/{Uri.EscapeDataString(user)}"));
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKeyGroup").GetInt32();
    }

    /// <summary>Requests recorded in usage, per the running gateway's health (store totals plus what it recorded since).</summary>
    public async Task<long> RecordedRequestsAsync()
    {
        using var response = await Gateway!.Http.SendAsync(Admin(HttpMethod.Get, "/api/admin/api-keys/health"));
        response.EnsureSuccessStatusCode();
        var health = await response.Content.ReadFromJsonAsync<JsonElement>();
        return health.GetProperty("keyGroupStats").EnumerateArray().Sum(s => s.GetProperty("total_requests").GetInt64());
    }

    /// <summary>Chat attempts that reached the emulator, whatever their end.</summary>
    public int UpstreamChatAttempts => Emulator.Served.Count(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        await Emulator.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // The temp folder is cleaned by the OS.
        }
    }
}
