using KeyPool.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Hosting;

public sealed class PeriodicServiceTests
{
    [Fact]
    public async Task ATickThatThrows_IsLogged_AndTheNextTickRuns()
    {
        var time = new FakeTimeProvider();
        var logger = new FakeLogger();
        using var service = new Flaky(time, logger);
        await service.StartAsync(CancellationToken.None);

        // The first tick throws, the next ones run: the service (and the host) outlive the failure. The service starts its
        // timer on a thread of its own, so the clock moves on until each tick is seen.
        await TickUntilAsync(time, () => service.Ticks >= 3);
        await service.StopAsync(CancellationToken.None);

        var line = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error);
        Assert.Equal(500, line.Id.Id);
        Assert.Contains(nameof(Flaky), line.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(line.Exception);
    }

    private static async Task TickUntilAsync(FakeTimeProvider time, Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the ticks did not run within 10 s");
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }
    }

    private sealed class Flaky(TimeProvider time, ILogger logger) : PeriodicService(time, logger)
    {
        private int _ticks;

        public int Ticks => Volatile.Read(ref _ticks);

        protected override TimeSpan Interval => TimeSpan.FromSeconds(1);

        protected override Task TickAsync(CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _ticks) == 1 ? throw new InvalidOperationException("a tick that failed") : Task.CompletedTask;
    }
}
