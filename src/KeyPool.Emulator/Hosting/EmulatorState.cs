using KeyPool.Emulator.Accounts;
using KeyPool.Emulator.Completions;
using KeyPool.Emulator.RateLimits;
using KeyPool.Emulator.Recording;
using KeyPool.Emulator.Responses;
using KeyPool.Emulator.Usage;
using Microsoft.Extensions.Logging;

namespace KeyPool.Emulator.Hosting;

/// <summary>Everything the handlers of one emulator instance share. No statics: tests run many instances at once.</summary>
internal sealed class EmulatorState(EmulatorOptions options, EmulatorFaults faults, TimeProvider timeProvider, ILogger logger, CancellationToken stopping)
{
    public EmulatorOptions Options { get; } = options;

    public EmulatorFaults Faults { get; } = faults;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public ILogger Logger { get; } = logger;

    /// <summary>Fires when the emulator stops, so that delayed handlers end instead of holding shutdown.</summary>
    public CancellationToken Stopping { get; } = stopping;

    public KeyDirectory Directory { get; } = new(options);

    public IReadOnlyList<string> Models { get; } = [.. options.Models];

    public TeamModelRateLimiter RateLimiter { get; } = new(timeProvider);

    public PerSecondLimiter PerSecond { get; } = new(timeProvider);

    public PromptCache PromptCache { get; } = new();

    public ServedLog Served { get; } = new();

    public DeferredCompletions Deferred { get; } = new(options, timeProvider);

    public ResponseStore Responses { get; } = new(timeProvider);

    public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        delay > TimeSpan.Zero ? Task.Delay(delay, TimeProvider, cancellationToken) : Task.CompletedTask;
}
