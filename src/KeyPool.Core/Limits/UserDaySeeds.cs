namespace KeyPool.Core.Limits;

/// <summary>
/// Reads of users' stored day totals for new counters of the <see cref="UserLimiter"/>, at most a few at once:
/// a user whose read cannot start now is seeded at a later request, and a failed read is retried then.
/// </summary>
internal sealed class UserDaySeeds(Func<string, DateOnly, CancellationToken, Task<long>> dailyTokens, int maxConcurrent)
{
    private readonly SemaphoreSlim _slots = new(maxConcurrent, maxConcurrent);
    private long _failures;

    /// <summary>Reads in flight now.</summary>
    public int InFlight => maxConcurrent - _slots.CurrentCount;

    /// <summary>Reads that failed (the count went on from memory).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Takes a read slot if one is free; never waits.</summary>
    public bool TryStart() => _slots.Wait(0);

    /// <summary>Reads the day total of <paramref name="userId"/> into <paramref name="counter"/> (a slot taken by <see cref="TryStart"/>).</summary>
    public async Task ReadAsync(string userId, UserCounter counter, int day)
    {
        try
        {
            var stored = await dailyTokens(userId, DateOnly.FromDayNumber(day), CancellationToken.None).ConfigureAwait(false);
            lock (counter)
            {
                if (counter.Day == day && counter.SeedState == SeedState.Reading)
                {
                    counter.Seed = Math.Max(0, stored);
                    counter.SeedState = SeedState.Done;
                }
            }
        }
#pragma warning disable CA1031 // The store is down or slow: the count goes on from memory and the read is retried at a later request.
        catch (Exception)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _failures);
            lock (counter)
            {
                if (counter.SeedState == SeedState.Reading)
                {
                    counter.SeedState = SeedState.Needed;
                }
            }
        }
        finally
        {
            _slots.Release();
        }
    }
}
