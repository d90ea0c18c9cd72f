using Microsoft.Extensions.Hosting;

namespace KeyPool.Emulator.Hosting;

/// <summary>
/// Replaces the console lifetime: an emulator lives inside another process (tests, the gateway's
/// demo mode) and must not take over Ctrl+C; its owner stops it by disposing.
/// </summary>
internal sealed class DetachedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
