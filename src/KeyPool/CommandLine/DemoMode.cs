using System.Security.Cryptography;
using KeyPool.Emulator;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary>
/// <c>serve --demo</c>: an in-process upstream emulator with 31 fake keys, fresh tokens and a
/// throwaway database, so a new user sees the pool work with one command.
/// </summary>
internal sealed class DemoMode : IAsyncDisposable
{
    private const int DemoKeys = 31;

    private readonly UpstreamEmulator _emulator;
    private readonly Dictionary<string, string?> _settings;
    private readonly string _adminToken = "kp-admin-" + RandomHex(12);
    private readonly string _clientToken = "kp-client-" + RandomHex(12);
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"keypool-demo-{Environment.ProcessId}.db");

    private DemoMode(UpstreamEmulator emulator, IReadOnlyList<string> keys)
    {
        _emulator = emulator;
        _settings = new()
        {
            ["KeyPool:Upstream:BaseUrl"] = emulator.BaseUrl.ToString(),
            ["KeyPool:AdminToken"] = _adminToken,
            ["KeyPool:ClientTokens:0"] = _clientToken,
            ["KeyPool:Keys:EnvPrefix"] = "KEYPOOL_DEMO_KEY",
            ["ConnectionStrings:KeyPool"] = $"Data Source={_database}",
        };
        for (var i = 0; i < keys.Count; i++)
        {
            _settings[i == 0 ? "KEYPOOL_DEMO_KEY" : $"KEYPOOL_DEMO_KEY_{i + 1}"] = keys[i];
        }
    }

    public static async Task<DemoMode> StartAsync(CancellationToken cancellationToken)
    {
        var keys = Enumerable.Range(1, DemoKeys).Select(_ => "xai-demo" + RandomHex(20)).ToArray();
        var options = new EmulatorOptions();
        foreach (var key in keys)
        {
            options.Keys.Add(key);
        }
        var emulator = await UpstreamEmulator.StartAsync(options, "http://127.0.0.1:0", TimeProvider.System, cancellationToken);
        return new DemoMode(emulator, keys);
    }

    /// <summary>Demo settings win over appsettings.json and the environment; explicit arguments such as --urls still apply.</summary>
    public void Configure(WebApplicationBuilder builder)
    {
        builder.Configuration.AddInMemoryCollection(_settings);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls("http://127.0.0.1:5000");
        }
    }

    public void PrintWelcome(IReadOnlyList<string> urls)
    {
        var url = urls.FirstOrDefault() ?? "http://127.0.0.1:5000";
        AnsiConsole.Write(new Rule("[green]KeyPool demo[/]"));
        // Plain writes: the console's word wrap must not break lines meant to be copied.
        Console.WriteLine($"Gateway:       {url}   (31 fake keys)");
        Console.WriteLine($"Upstream:      {_emulator.BaseUrl}   (the built-in emulator)");
        Console.WriteLine($"Client token:  {_clientToken}");
        Console.WriteLine($"Admin token:   {_adminToken}");
        Console.WriteLine($"Database:      {_database}");
        Console.WriteLine();
        Console.WriteLine("Send chat requests as 40 different users:");
        Console.WriteLine($"  for i in $(seq 1 40); do curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {_clientToken}' -H \"X-KeyPool-User: user-$i\" -H 'Content-Type: application/json' -d '{{\"model\":\"grok-4.3\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}' >/dev/null; done");
        Console.WriteLine("Then see how they spread over the keys:");
        Console.WriteLine($"  curl -s {url}/api/admin/api-keys/health -H 'Authorization: Bearer {_adminToken}'");
        AnsiConsole.Write(new Rule());
    }

    public async ValueTask DisposeAsync()
    {
        await _emulator.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }

    private static string RandomHex(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));
}
