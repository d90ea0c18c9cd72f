using System.Runtime.InteropServices;
using KeyPool.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace KeyPool.Keys;

/// <summary>Reloads the keys when the keys file changes and on SIGHUP (the admin API calls the reloader directly).</summary>
internal sealed class KeyReloadTriggers(KeyReloader reloader, IOptions<KeysOptions> options, ILogger<KeyReloadTriggers> logger) : IHostedService, IDisposable
{
    private PhysicalFileProvider? _files;
    private IDisposable? _watch;
    private PosixSignalRegistration? _hangup;
    private CancellationTokenSource? _stopping;
    private CancellationToken _stoppingToken = CancellationToken.None;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = new CancellationTokenSource();
        // Taken once: a signal can reach this handler while the host is being disposed, when the source's Token would throw.
        _stoppingToken = _stopping.Token;
        if (!OperatingSystem.IsWindows())
        {
            _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP reloads; it must not stop the process
                Reload("SIGHUP");
            });
        }
        if (options.Value.File is { Length: > 0 } file)
        {
            var path = Path.GetFullPath(file);
            _files = new PhysicalFileProvider(Path.GetDirectoryName(path)!);
            var name = Path.GetFileName(path);
            _watch = ChangeToken.OnChange(() => _files.Watch(name), () => Reload($"{name} changed"));
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping?.Cancel();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _files?.Dispose();
        _hangup?.Dispose();
        _stopping?.Dispose();
    }

    /// <summary>
    /// Starts a reload in the background and never throws: the runtime calls every SIGHUP handler of the process in
    /// one loop, so a handler that threw (a gateway being disposed) would silence the handlers after it.
    /// </summary>
    private void Reload(string trigger)
    {
        var stopping = _stoppingToken;
        if (stopping.IsCancellationRequested)
        {
            return;
        }
        try
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await reloader.ReloadAsync(trigger, stopping);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    logger.LogError(exception, "Key reload after {Trigger} failed; the current keys stay", trigger);
                }
            }, stopping);
        }
        catch (ObjectDisposedException)
        {
            // This gateway is being disposed: nothing to reload.
        }
    }
}
