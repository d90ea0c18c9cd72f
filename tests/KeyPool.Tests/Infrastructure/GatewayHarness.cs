using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Emulator;
using KeyPool.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI;
using OpenAI.Chat;
using System.ClientModel;

namespace KeyPool.Tests.Infrastructure;

/// <summary>
/// A real gateway on Kestrel (free port) in front of the real upstream emulator (free port), with a
/// throwaway SQLite file and every log line captured. Each instance is independent.
/// </summary>
public sealed class GatewayHarness : IAsyncDisposable
{
    public const string ClientToken = "test-client-token-0123456789";
    public const string AdminToken = "test-admin-token-9876543210";

    private readonly string _directory;

    private GatewayHarness(UpstreamEmulator emulator, WebApplication app, string directory, IReadOnlyList<string> keys, Uri baseAddress)
    {
        Emulator = emulator;
        App = app;
        _directory = directory;
        Keys = keys;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress };
    }

    public UpstreamEmulator Emulator { get; }

    public WebApplication App { get; }

    /// <summary>Key secrets by position; group n is <c>Keys[n - 1]</c> unless the test chose otherwise.</summary>
    public IReadOnlyList<string> Keys { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public string DatabasePath => Path.Combine(_directory, "keypool.db");

    public FakeLogCollector Logs => App.Services.GetFakeLogCollector();

    /// <summary>Every log line so far, formatted.</summary>
    public IReadOnlyList<string> LogLines => Logs.GetSnapshot().Select(r => r.Message).ToArray();

    public static string KeyFor(int group) => $"xai-test{group:D2}-{new string((char)('a' + group % 26), 24)}{group:D4}";

    /// <summary>Starts the emulator with <paramref name="keyCount"/> keys and a gateway that knows them as groups 1…n.</summary>
    public static async Task<GatewayHarness> StartAsync(
        int keyCount = 6,
        IDictionary<string, string?>? settings = null,
        Action<EmulatorOptions>? emulator = null,
        IReadOnlyDictionary<int, string>? groupKeys = null,
        TimeProvider? time = null)
    {
        var keys = Enumerable.Range(1, keyCount).Select(KeyFor).ToList();
        var emulatorOptions = new EmulatorOptions();
        foreach (var key in keys)
        {
            emulatorOptions.Keys.Add(key);
        }
        emulator?.Invoke(emulatorOptions);
        var upstream = await UpstreamEmulator.StartAsync(emulatorOptions, timeProvider: time);

        var directory = Directory.CreateTempSubdirectory("keypool-test-").FullName;
        var configuration = new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = upstream.BaseUrl.ToString(),
            ["KeyPool:AdminToken"] = AdminToken,
            ["KeyPool:ClientTokens:0"] = ClientToken,
            ["KeyPool:Keys:EnvPrefix"] = "TEST_XAI_KEY",
            ["ConnectionStrings:KeyPool"] = $"Data Source={Path.Combine(directory, "keypool.db")}",
        };
        var groups = groupKeys ?? keys.Select((k, i) => (Group: i + 1, Key: k)).ToDictionary(p => p.Group, p => p.Key);
        foreach (var (group, key) in groups)
        {
            configuration[group == 1 ? "TEST_XAI_KEY" : $"TEST_XAI_KEY_{group}"] = key;
        }
        foreach (var (name, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[name] = value;
        }

        WebApplication app;
        try
        {
            app = GatewayApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
            {
                builder.Configuration.AddInMemoryCollection(configuration);
                if (time is not null)
                {
                    builder.Services.AddSingleton(time); // one clock for the gateway and the emulator
                }
                builder.Logging.ClearProviders();
                builder.Logging.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
                builder.Logging.SetMinimumLevel(LogLevel.Debug);
            });
            await app.StartAsync();
        }
        catch
        {
            await upstream.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayHarness(upstream, app, directory, keys, new Uri(address));
    }

    public ChatClient ChatClient(string model = "grok-4.3", string token = ClientToken) =>
        new(model, new ApiKeyCredential(token), new OpenAIClientOptions
        {
            Endpoint = new Uri(BaseAddress, "/v1"),
            NetworkTimeout = TimeSpan.FromSeconds(30),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0),
        });

    public static ChatCompletionOptions ForUser(string user, int? maxTokens = null) => new() { EndUserId = user, MaxOutputTokenCount = maxTokens };

    /// <summary>A raw chat request, for cases the SDK hides (headers, malformed bodies).</summary>
    public HttpRequestMessage ChatRequest(string? body, string? user = null, string? token = ClientToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (user is not null)
        {
            request.Headers.Add("X-KeyPool-User", user);
        }
        return request;
    }

    public static string ChatBody(string content = "Hello", bool stream = false, string model = "grok-4.3", string? extra = null) =>
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}],"stream":{{(stream ? "true" : "false")}}{{(extra is null ? "" : "," + extra)}}}""";

    public HttpRequestMessage Admin(HttpMethod method, string path, object? body = null, string? token = AdminToken)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        return request;
    }

    public async Task<JsonElement> HealthAsync()
    {
        using var response = await Http.SendAsync(Admin(HttpMethod.Get, "/api/admin/api-keys/health"));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The pool's health status (HEALTHY, DEGRADED, …) as the health endpoint says it.</summary>
    public async Task<string?> HealthStatusAsync() =>
        (await HealthAsync()).GetProperty("health").GetProperty("status").GetString();

    /// <summary>Sends a chat request as <paramref name="user"/> and returns the status, the Retry-After header and the body.</summary>
    public async Task<(int Status, string? RetryAfter, string Body)> ChatAsync(string user, bool stream = false, int? maxTokens = null)
    {
        var body = ChatBody(stream: stream, extra: maxTokens is { } tokens ? $"\"max_tokens\":{tokens}" : null);
        using var response = await Http.SendAsync(ChatRequest(body, user));
        return ((int)response.StatusCode, response.Headers.RetryAfter?.ToString(), await response.Content.ReadAsStringAsync());
    }

    /// <summary>The health entry of <paramref name="group"/>.</summary>
    public async Task<JsonElement> KeyStatsAsync(int group) =>
        (await HealthAsync()).GetProperty("keyGroupStats").EnumerateArray().Single(s => s.GetProperty("key_group").GetInt32() == group);

    /// <summary>Stores <paramref name="user"/> in <paramref name="group"/> directly, as after an earlier run with other keys.</summary>
    public async Task PlaceUserAsync(string user, int group)
    {
        await using var store = new KeyPool.Sqlite.SqliteStore($"Data Source={DatabasePath}", TimeProvider.System);
        await store.GetOrAssignAsync(user, "free", [group], CancellationToken.None);
    }

    /// <summary>Issues a gateway key for <paramref name="user"/> through the admin API (201 asserted); the answer, with the key shown once.</summary>
    public async Task<JsonElement> IssueGatewayKeyAsync(string user)
    {
        using var response = await Http.SendAsync(Admin(HttpMethod.Post, $"/api/admin/users/{user}/keys"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<int> GroupOfAsync(string user)
    {
        using var response = await Http.SendAsync(Admin(HttpMethod.Get, $"/api/admin/users/{Uri.EscapeDataString(user)}"));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKeyGroup").GetInt32();
    }

    /// <summary>What reached the emulator other than the gateway's own calls (key checks, model list: User-Agent KeyPool).</summary>
    public IReadOnlyList<ServedRequest> ChatServed => Emulator.Served
        .Where(s => !s.Path.EndsWith("/api-key", StringComparison.Ordinal) && !(s.Headers.TryGetValue("User-Agent", out var agent) && agent.StartsWith("KeyPool/", StringComparison.Ordinal)))
        .ToArray();

    /// <summary>The group whose key served each successful chat request of <paramref name="user"/>, per the emulator.</summary>
    public IReadOnlyList<int> GroupsThatServed(string user) =>
        Emulator.Served.Where(s => (s.User == user || s.ConversationId == global::KeyPool.Proxy.ConversationId.For(user)) && s.Status == 200 && s.Path.EndsWith("/chat/completions", StringComparison.Ordinal))
            .Select(s => Keys.ToList().IndexOf(s.Key!) + 1).ToArray();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Emulator.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a pooled handle; the temp folder is cleaned by the OS.
        }
    }
}
