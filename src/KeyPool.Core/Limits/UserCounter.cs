namespace KeyPool.Core.Limits;

/// <summary>One user's counts in the <see cref="UserLimiter"/>; every field is guarded by a lock on the counter.</summary>
internal sealed class UserCounter
{
    public long RequestTat; // the GCRA "theoretical arrival time" of the request bucket, in UTC ticks
    public long TokenTat;
    public long DayTokens; // counted here today (reservations included)
    public long Seed; // the day's tokens read from the store when the counter was made
    public long RequestLimit; // the limits the buckets were counted under (a tier change rescales them)
    public long TokenLimit;
    public int Day;
    public int InFlight;
    public SeedState SeedState;
    public bool DayRefused;
    public bool Evicted; // dropped from the limiter's table: a request holding it looks the user up again

    /// <summary>Whether nothing would be lost by dropping the counter <paramref name="idle"/>ly at <paramref name="now"/> (under its lock).</summary>
    /// <param name="idle">True for a counter unused for a while (its buckets must be full again); false for one dropped for room.</param>
    /// <param name="now">UTC ticks.</param>
    /// <param name="keepDayTotals">Without a store to read day totals from, a day total counted today is kept until the day ends.</param>
    public bool MayDrop(bool idle, long now, bool keepDayTotals)
    {
        if (InFlight > 0)
        {
            return false;
        }
        if (!idle)
        {
            return true;
        }
        // A user refused for the day stays counted until midnight: dropped, their next counter would let one
        // request through before its day total arrives from the store, again after every idle spell.
        var keepsDayTotal = Day == (int)(now / TimeSpan.TicksPerDay) && (DayRefused || (keepDayTotals && DayTokens > 0));
        return RequestTat <= now && TokenTat <= now && !keepsDayTotal;
    }
}

/// <summary>Where a counter's day total from the store stands.</summary>
internal enum SeedState : byte
{
    Needed,
    Reading,
    Done,
}
