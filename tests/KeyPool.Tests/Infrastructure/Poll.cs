using System.Diagnostics;

namespace KeyPool.Tests.Infrastructure;

/// <summary>
/// Waits for a condition on real servers and processes: polls it up to the test's own bound instead of sleeping a fixed
/// time, so a test is as fast as the machine allows and still bounded when the whole suite shares two cores.
/// </summary>
public static class Poll
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long <paramref name="condition"/> took to hold, or null when it did not within <paramref name="bound"/>.
    /// Checked every <paramref name="interval"/> (50 ms unless given: a condition that asks several servers asks less often).
    /// </summary>
    public static async Task<TimeSpan?> TimeUntilAsync(Func<Task<bool>> condition, TimeSpan bound, TimeSpan? interval = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return clock.Elapsed;
            }
            if (clock.Elapsed >= bound)
            {
                return null;
            }
            await Task.Delay(interval ?? DefaultInterval);
        }
    }

    /// <summary>Fails the test unless <paramref name="condition"/> holds within <paramref name="bound"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan bound, TimeSpan? interval = null) =>
        Assert.True(await TimeUntilAsync(condition, bound, interval) is not null, $"The condition did not hold within {bound.TotalSeconds:0.#} s.");

    /// <summary>Fails the test unless <paramref name="condition"/> (in memory, cheap to ask) holds within <paramref name="bound"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan bound) => UntilAsync(() => Task.FromResult(condition()), bound);
}
