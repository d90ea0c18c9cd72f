using Microsoft.Playwright;

namespace KeyPool.Browser.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium driven by Playwright (whose NuGet package ships its driver): no
/// browser download, a fresh profile directory per run, nothing from the network but the gateway.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private static readonly string[] Arguments =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private IPlaywright? _playwright;
    private string? _profile;

    public IBrowserContext Context { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install Debian's chromium (test.sh does: apt-get install -y chromium).");
        }
        _playwright = await Playwright.CreateAsync();
        // Playwright refuses --user-data-dir in Args; a persistent context on a fresh folder is the same thing.
        _profile = Directory.CreateTempSubdirectory("keypool-chromium-").FullName;
        Context = await _playwright.Chromium.LaunchPersistentContextAsync(_profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = Arguments,
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            Timeout = 20_000,
        });
        Context.SetDefaultTimeout(10_000);
    }

    /// <summary>A new tab: its own sessionStorage, so every test signs in from scratch.</summary>
    public Task<IPage> NewPageAsync() => Context.NewPageAsync();

    public async Task DisposeAsync()
    {
        if (Context is not null)
        {
            await Context.CloseAsync();
        }
        _playwright?.Dispose();
        if (_profile is not null)
        {
            try
            {
                Directory.Delete(_profile, recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still be flushing its profile; the temp folder is cleaned by the OS.
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ChromiumCollection : ICollectionFixture<Chromium>
{
    public const string Name = "Chromium";
}
