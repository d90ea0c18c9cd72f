using System.Numerics;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Routing;

/// <summary>
/// Measures demand per minute over the last hour: requests admitted, distinct users (a HyperLogLog sketch per
/// minute, 2 KB, about 2% error, so memory does not grow with users) and tokens (the budgets' settled counts,
/// read once a minute). Recording costs a string hash and two array writes; nothing waits on a lock.
/// </summary>
public sealed class DemandMeter
{
    /// <summary>Minutes kept.</summary>
    public const int Minutes = 60;

    private const int Precision = 11;
    private const int Registers = 1 << Precision;

    private readonly long[] _stamps = new long[Minutes];
    private readonly long[] _requests = new long[Minutes];
    private readonly long[] _tokens = new long[Minutes];
    private readonly long[] _windowRequests = new long[Minutes];
    private readonly byte[][] _sketches = new byte[Minutes][];
    private readonly Lock _rollLock = new();

    /// <summary>Creates an empty meter.</summary>
    public DemandMeter()
    {
        Array.Fill(_stamps, long.MinValue);
        for (var i = 0; i < Minutes; i++)
        {
            _sketches[i] = new byte[Registers];
        }
    }

    /// <summary>Counts one admitted request of <paramref name="userId"/> (null: no user) at <paramref name="second"/>; reads the pool's token counts when a minute begins.</summary>
    public void Record(long second, string? userId, PoolSnapshot pool)
    {
        var minute = Math.DivRem(second, 60, out _);
        var slot = Slot(minute);
        if (Volatile.Read(ref _stamps[slot]) != minute)
        {
            Roll(minute, second, pool);
        }
        Interlocked.Increment(ref _requests[slot]);
        if (userId is not null)
        {
            var hash = (uint)userId.GetHashCode();
            var register = (int)(hash >> (32 - Precision));
            var rank = (byte)(BitOperations.LeadingZeroCount((hash << Precision) | (1u << (Precision - 1))) + 1);
            var sketch = _sketches[slot];
            if (sketch[register] < rank)
            {
                sketch[register] = rank; // a lost race keeps a slightly lower rank: within the sketch's error
            }
        }
    }

    /// <summary>The completed minutes before <paramref name="second"/>'s minute (at most <paramref name="minutes"/>), oldest first.</summary>
    public IReadOnlyList<MinuteDemand> History(long second, int minutes = Minutes)
    {
        var current = second / 60;
        var list = new List<MinuteDemand>();
        for (var m = current - Math.Clamp(minutes, 1, Minutes - 1); m < current; m++)
        {
            var slot = Slot(m);
            if (Volatile.Read(ref _stamps[slot]) == m)
            {
                list.Add(new MinuteDemand(m * 60, Volatile.Read(ref _requests[slot]), Estimate(_sketches[slot]), Volatile.Read(ref _tokens[slot]), Volatile.Read(ref _windowRequests[slot])));
            }
        }
        return list;
    }

    private void Roll(long minute, long second, PoolSnapshot pool)
    {
        lock (_rollLock)
        {
            var slot = Slot(minute);
            if (_stamps[slot] == minute)
            {
                return;
            }
            // The budgets hold the last ~minute's settled tokens: credit them to the minute that just ended.
            var previous = Slot(minute - 1);
            if (_stamps[previous] == minute - 1)
            {
                long tokens = 0, requests = 0;
                foreach (var team in pool.Teams)
                {
                    foreach (var window in pool.WindowsOf(team[0]))
                    {
                        var used = window.Used(second);
                        tokens += used.Tokens;
                        requests += used.Requests;
                    }
                }
                _tokens[previous] = tokens;
                _windowRequests[previous] = requests;
            }
            _requests[slot] = 0;
            _tokens[slot] = 0;
            _windowRequests[slot] = 0;
            Array.Clear(_sketches[slot]);
            Volatile.Write(ref _stamps[slot], minute);
        }
    }

    private static int Slot(long minute) => (int)(((minute % Minutes) + Minutes) % Minutes);

    private static long Estimate(byte[] sketch)
    {
        double sum = 0;
        var zeros = 0;
        foreach (var rank in sketch)
        {
            sum += Math.ScaleB(1, -rank);
            zeros += rank == 0 ? 1 : 0;
        }
        const double alpha = 0.7213 / (1 + (1.079 / Registers));
        var estimate = alpha * Registers * Registers / sum;
        if (estimate <= 2.5 * Registers && zeros > 0)
        {
            estimate = Registers * Math.Log((double)Registers / zeros); // linear counting for small sets
        }
        return (long)Math.Round(estimate);
    }
}

/// <summary>One minute's demand.</summary>
/// <param name="Start">The minute's first Unix second.</param>
/// <param name="Requests">Requests admitted in it.</param>
/// <param name="Users">Distinct users among them (estimate).</param>
/// <param name="WindowTokens">Tokens the budgets counted over the sliding minute when it ended (0 when not read).</param>
/// <param name="WindowRequests">Requests the budgets counted over the same span.</param>
public readonly record struct MinuteDemand(long Start, long Requests, long Users, long WindowTokens, long WindowRequests);
