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

namespace KeyPool.Browser.Tests.Infrastructure;

/// <summary>
/// A real gateway on Kestrel (free port) in front of the real upstream emulator (free port) with a
/// throwaway SQLite file: the same set-up as KeyPool.Tests' GatewayHarness, trimmed to what the
/// dashboard tests drive.
/// </summary>
public sealed class DashboardGateway : IAsyncDisposable
{
    public const string ClientToken = "browser-client-token-0123456789";
    public const string AdminToken = "browser-admin-token-9876543210";

    private readonly string _directory;

    private DashboardGateway(UpstreamEmulator emulator, WebApplication app, string directory, IReadOnlyList<string> keys, Uri baseAddress)
    {
        Emulator = emulator;
        App = app;
        _directory = directory;
        Keys = keys;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(20) };
    }

    public UpstreamEmulator Emulator { get; }

    public WebApplication App { get; }

    /// <summary>Key secrets; group n is <c>Keys[n - 1]</c>.</summary>
    public IReadOnlyList<string> Keys { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public Uri DashboardUrl => new(BaseAddress, "/admin");

    public static string KeyFor(int group) => $"xai-browser{group:D2}-{new string((char)('a' + group % 26), 24)}{group:D4}";

    public static async Task<DashboardGateway> StartAsync(int keyCount)
    {
        var keys = Enumerable.Range(1, keyCount).Select(KeyFor).ToList();
        var emulatorOptions = new EmulatorOptions();
        foreach (var key in keys)
        {
            emulatorOptions.Keys.Add(key);
        }
        var upstream = await UpstreamEmulator.StartAsync(emulatorOptions);

        var directory = Directory.CreateTempSubdirectory("keypool-browser-").FullName;
        var configuration = new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = upstream.BaseUrl.ToString(),
            ["KeyPool:AdminToken"] = AdminToken,
            ["KeyPool:ClientTokens:0"] = ClientToken,
            ["KeyPool:Keys:EnvPrefix"] = "BROWSER_XAI_KEY",
            ["ConnectionStrings:KeyPool"] = $"Data Source={Path.Combine(directory, "keypool.db")}",
        };
        for (var group = 1; group <= keys.Count; group++)
        {
            configuration[group == 1 ? "BROWSER_XAI_KEY" : $"BROWSER_XAI_KEY_{group}"] = keys[group - 1];
        }

        WebApplication app;
        try
        {
            app = GatewayApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
            {
                builder.Configuration.AddInMemoryCollection(configuration);
                builder.Logging.ClearProviders();
            });
            await app.StartAsync();
        }
        catch
        {
            await upstream.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardGateway(upstream, app, directory, keys, new Uri(address));
    }

    /// <summary>Sends one chat request for <paramref name="user"/>; returns the status and the response's total tokens.</summary>
    public async Task<(int Status, long TotalTokens)> ChatAsync(string user, string content = "Hello")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(
                $$"""{"model":"grok-4.3","messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}]}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ClientToken);
        request.Headers.Add("X-KeyPool-User", user);
        using var response = await Http.SendAsync(request);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var tokens = response.IsSuccessStatusCode ? body.GetProperty("usage").GetProperty("total_tokens").GetInt64() : 0;
        return ((int)response.StatusCode, tokens);
    }

    /// <summary>The key group the gateway assigned to <paramref name="user"/>.</summary>
    public async Task<int> GroupOfAsync(string user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/users/{Uri.EscapeDataString(user)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKeyGroup").GetInt32();
    }

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
