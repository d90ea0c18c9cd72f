using KeyPool.Emulator.Completions;
using KeyPool.Emulator.Hosting;
using KeyPool.Emulator.Logging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeyPool.Emulator;

/// <summary>
/// An xAI/OpenAI-compatible upstream on Kestrel, for tests, benchmarks, demo mode and
/// <c>keypool emulator</c>. Deterministic: replies derive from the prompt, time from the TimeProvider.
/// </summary>
public sealed class UpstreamEmulator : IAsyncDisposable
{
    // Requests still delayed at shutdown are cancelled through the stopping token; this only bounds stragglers.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);

    private readonly WebApplication _app;
    private readonly EmulatorState _state;
    private int _disposed;

    private UpstreamEmulator(WebApplication app, EmulatorState state, Uri baseUrl)
    {
        _app = app;
        _state = state;
        BaseUrl = baseUrl;
    }

    /// <summary>Where clients point: e.g. <c>http://127.0.0.1:PORT/v1</c>, without a trailing slash.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The options the emulator runs with; numbers may be changed live.</summary>
    public EmulatorOptions Options => _state.Options;

    /// <summary>Live fault knobs.</summary>
    public EmulatorFaults Faults => _state.Faults;

    /// <summary>A snapshot of every request that reached a handler, in order.</summary>
    public IReadOnlyList<ServedRequest> Served => _state.Served.Snapshot();

    /// <summary>Starts Kestrel on <paramref name="url"/> (port 0 picks a free port) and returns once it listens.</summary>
    public static async Task<UpstreamEmulator> StartAsync(
        EmulatorOptions options,
        string url = "http://127.0.0.1:0",
        TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        EmulatorOptionsValidation.ThrowIfInvalid(options);

        // The empty builder reads no appsettings, environment or command line: the emulator is
        // configured by its options only, and starts without file watchers.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls(url);
        builder.Services.AddRoutingCore();
        builder.Services.AddSingleton<IHostLifetime, DetachedLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        options.ConfigureLogging?.Invoke(builder.Logging);

        var app = builder.Build();
        try
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("KeyPool.Emulator");
            var state = new EmulatorState(options, new EmulatorFaults(), timeProvider ?? TimeProvider.System, logger, app.Lifetime.ApplicationStopping);
            app.MapEmulator(state);
            await app.StartAsync(cancellationToken);
            var emulator = new UpstreamEmulator(app, state, ResolveBaseUrl(app));
            EmulatorLog.Listening(logger, emulator.BaseUrl, options.Keys.Count);
            return emulator;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Successful (2xx, not reset) chat-completion requests served with <paramref name="key"/>.</summary>
    public int CountServedBy(string key) => _state.Served.CountSuccessful(key, ChatCompletionsEndpoint.Path);

    /// <summary>The recorded requests, forgotten in the same step (long runs count them in batches without holding them all).</summary>
    public IReadOnlyList<ServedRequest> TakeServed() => _state.Served.Take();

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearServed() => _state.Served.Clear();

    /// <summary>
    /// Waits until <paramref name="ct"/> is cancelled (e.g. Ctrl+C in the CLI) or the emulator is disposed,
    /// then returns without throwing; the caller still disposes.
    /// </summary>
    public async Task WaitForShutdownAsync(CancellationToken ct)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onCancel = ct.Register(() => stopped.TrySetResult());
        using var onStop = _app.Lifetime.ApplicationStopping.Register(() => stopped.TrySetResult());
        await stopped.Task;
    }

    /// <summary>Stops listening; requests still delayed are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    private static Uri ResolveBaseUrl(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var address = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel reported no listening address.");
        var uri = new UriBuilder(address);
        // A wildcard bind is reachable through loopback; clients cannot connect to 0.0.0.0 itself.
        if (uri.Host is "0.0.0.0" or "[::]" or "::" or "+" or "*")
        {
            uri.Host = "127.0.0.1";
        }
        return new Uri(uri.Uri.GetLeftPart(UriPartial.Authority) + "/v1");
    }
}
