namespace KeyPool.Core.Fairness;

/// <summary>
/// What each user was admitted over the last half minute to minute, in a fixed-size count-min sketch: two rows of
/// <see cref="Width"/> counters per <see cref="EpochSeconds"/>-second epoch, the current epoch and the one before
/// (weighted by how much of it still lies in the last <see cref="EpochSeconds"/>). Memory is 2 MB whatever the
/// number of users, and recording allocates nothing and takes no lock (two interlocked adds). A user sharing both
/// counters with others is over-counted: the average load of a counter is taken off (count-mean-min), so tens of
/// thousands of active users still read about their own usage. The average per active user, and that load, are
/// computed at most once a second by a scan of the sketch (distinct users by linear counting).
/// </summary>
public sealed class RecentUsage
{
    /// <summary>Length of one epoch; usage covers the current epoch and the weighted one before.</summary>
    public const int EpochSeconds = 30;

    /// <summary>Counters per row (a power of two).</summary>
    public const int Width = 1 << 17;

    private const int Mask = Width - 1;

    private readonly Lock _lock = new();
    private volatile Epoch _current = new(long.MinValue);
    private volatile Epoch _previous = new(long.MinValue);
    private volatile Average _average = new(long.MinValue, 0, 0, 0);

    /// <summary>Adds <paramref name="cost"/> to the user of <paramref name="hash"/> at <paramref name="second"/>.</summary>
    public void Record(int hash, int cost, long second)
    {
        var epoch = EpochAt(second);
        Interlocked.Add(ref epoch.Row0[hash & Mask], cost);
        Interlocked.Add(ref epoch.Row1[Mix(hash) & Mask], cost);
    }

    /// <summary>The usage of the user of <paramref name="hash"/> over the last half minute to minute (estimated: see the class).</summary>
    public double Of(int hash, long second)
    {
        var noise = Averages(second).Noise;
        var current = _current;
        var previous = _previous;
        var weight = PreviousWeight(current, previous, second);
        var row0 = Volatile.Read(ref current.Row0[hash & Mask]) + (weight * Volatile.Read(ref previous.Row0[hash & Mask]));
        var row1 = Volatile.Read(ref current.Row1[Mix(hash) & Mask]) + (weight * Volatile.Read(ref previous.Row1[Mix(hash) & Mask]));
        return Math.Max(0, Math.Min(row0, row1) - noise);
    }

    /// <summary>
    /// The average usage of the users active in the same span (0 when none), and how many they are (estimated);
    /// computed once per second.
    /// </summary>
    public (double PerUser, double Users) AverageAt(long second)
    {
        var average = Averages(second);
        return (average.PerUser, average.Users);
    }

    private Average Averages(long second)
    {
        var average = _average;
        if (average.Second == second)
        {
            return average;
        }
        var current = EpochAt(second);
        lock (_lock)
        {
            if (_average.Second != second)
            {
                var previous = _previous;
                var weight = PreviousWeight(current, previous, second);
                var (currentTotal, currentUsers) = Scan(current.Row0);
                var (previousTotal, previousUsers) = weight > 0 ? Scan(previous.Row0) : (0, 0);
                // Most active users are active in both epochs: the larger count stands for both.
                var users = Math.Max(currentUsers, previousUsers);
                var total = currentTotal + (weight * previousTotal);
                // What a counter holds of other users, on average: a user's own count is what exceeds it.
                var noise = users > 1 ? total * (users - 1) / users / Width : 0;
                _average = new Average(second, users > 0 ? total / users : 0, users, noise);
            }
            return _average;
        }
    }

    private static (long Total, double Users) Scan(int[] row)
    {
        long total = 0;
        var empty = 0;
        foreach (var count in row)
        {
            total += count;
            empty += count == 0 ? 1 : 0;
        }
        // Linear counting: users hashed into Width counters leave this many empty.
        var users = empty == 0 ? Width * Math.Log(Width) : -Width * Math.Log((double)empty / Width);
        return (total, users);
    }

    private static double PreviousWeight(Epoch current, Epoch previous, long second) =>
        previous.Number == current.Number - 1 ? 1 - ((double)(second - (current.Number * EpochSeconds)) / EpochSeconds) : 0;

    private Epoch EpochAt(long second)
    {
        var number = Math.DivRem(second, EpochSeconds, out var rest) - (rest < 0 ? 1 : 0);
        var current = _current;
        if (current.Number >= number)
        {
            return current; // this epoch (or a late caller from the one before: counted in the newer one)
        }
        lock (_lock)
        {
            current = _current;
            if (current.Number >= number)
            {
                return current;
            }
            // The older epoch is cleared and reused; a recorder still writing to it counts in the past, harmlessly.
            var reused = _previous;
            Array.Clear(reused.Row0);
            Array.Clear(reused.Row1);
            if (current.Number == number - 1)
            {
                reused.Number = number;
                _previous = current;
                _current = reused;
            }
            else
            {
                Array.Clear(current.Row0);
                Array.Clear(current.Row1);
                current.Number = number - 1; // an idle epoch: empty
                reused.Number = number;
                _previous = current;
                _current = reused;
            }
            return reused;
        }
    }

    // A second index from the same hash (a multiplicative mix), so two users rarely share both counters.
    private static int Mix(int hash) => (int)(((uint)hash * 0x9E3779B1u) >> (32 - 17));

    private sealed class Epoch(long number)
    {
        public readonly int[] Row0 = new int[Width];
        public readonly int[] Row1 = new int[Width];
        public long Number = number;
    }

    private sealed record Average(long Second, double PerUser, double Users, double Noise);
}
