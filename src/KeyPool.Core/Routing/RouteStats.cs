namespace KeyPool.Core.Routing;

/// <summary>
/// How requests fared over the last minutes, in one-second buckets: admitted to the user's own key,
/// admitted elsewhere, refused. The source of <c>pool.sticky_ratio</c> and <c>pool.goodput_ratio</c>.
/// Lock-free on the hot path (one interlocked add); a bucket is cleared by the first request of its second.
/// </summary>
public sealed class RouteStats
{
    /// <summary>Seconds kept: five minutes.</summary>
    public const int WindowSeconds = 300;

    private readonly Lock _resetLock = new();
    private readonly long[] _stamps = new long[WindowSeconds];
    private readonly long[] _sticky = new long[WindowSeconds];
    private readonly long[] _moved = new long[WindowSeconds];
    private readonly long[] _refused = new long[WindowSeconds];
    private long _firstSecond = long.MinValue;

    /// <summary>Creates empty statistics.</summary>
    public RouteStats()
    {
        Array.Fill(_stamps, long.MinValue);
    }

    /// <summary>Counts a request admitted at <paramref name="second"/>; <paramref name="onOwnKey"/> when it went to the user's own group (or named no user).</summary>
    public void Admitted(long second, bool onOwnKey) => Interlocked.Increment(ref (onOwnKey ? _sticky : _moved)[Bucket(second)]);

    /// <summary>Counts a request refused for lack of capacity at <paramref name="second"/>.</summary>
    public void Refused(long second) => Interlocked.Increment(ref _refused[Bucket(second)]);

    /// <summary>Totals over the last <paramref name="seconds"/> (at most <see cref="WindowSeconds"/>) up to <paramref name="second"/>.</summary>
    public RouteTotals Totals(long second, int seconds = WindowSeconds)
    {
        seconds = Math.Clamp(seconds, 1, WindowSeconds);
        long sticky = 0, moved = 0, refused = 0;
        for (var s = second - seconds + 1; s <= second; s++)
        {
            var slot = Slot(s);
            if (Volatile.Read(ref _stamps[slot]) == s)
            {
                sticky += Volatile.Read(ref _sticky[slot]);
                moved += Volatile.Read(ref _moved[slot]);
                refused += Volatile.Read(ref _refused[slot]);
            }
        }
        var first = Volatile.Read(ref _firstSecond);
        var covered = first == long.MinValue ? 0 : (int)Math.Clamp(second - first + 1, 0, seconds);
        return new RouteTotals(sticky, moved, refused, covered);
    }

    private static int Slot(long second) => (int)(((second % WindowSeconds) + WindowSeconds) % WindowSeconds);

    private int Bucket(long second)
    {
        var slot = Slot(second);
        if (Volatile.Read(ref _stamps[slot]) != second)
        {
            lock (_resetLock)
            {
                if (_stamps[slot] < second)
                {
                    _sticky[slot] = 0;
                    _moved[slot] = 0;
                    _refused[slot] = 0;
                    Volatile.Write(ref _stamps[slot], second);
                }
                if (_firstSecond == long.MinValue)
                {
                    Volatile.Write(ref _firstSecond, second);
                }
            }
        }
        return slot;
    }
}

/// <summary>Requests over a span of seconds.</summary>
/// <param name="Sticky">Admitted to the user's own key.</param>
/// <param name="Moved">Admitted to another key (spill-over, a removed key's users, a policy ignoring stickiness).</param>
/// <param name="Refused">Refused for lack of capacity (429).</param>
/// <param name="Seconds">Seconds the span really covers (less than asked while the gateway is young).</param>
public readonly record struct RouteTotals(long Sticky, long Moved, long Refused, int Seconds)
{
    /// <summary>Requests admitted.</summary>
    public long Admitted => Sticky + Moved;

    /// <summary>Share of admitted requests that stayed on the user's own key; null with no request.</summary>
    public double? StickyRatio => Admitted == 0 ? null : (double)Sticky / Admitted;

    /// <summary>
    /// Admitted requests as a share of what could have been admitted: of the requests offered when they fit
    /// in <paramref name="requestsPerMinute"/> over the span, else of that budget. 1 = nothing refused that the
    /// budget had room for; null with no request.
    /// </summary>
    public double? GoodputRatio(long requestsPerMinute)
    {
        var offered = Admitted + Refused;
        if (offered == 0 || Seconds == 0)
        {
            return null;
        }
        var budget = requestsPerMinute * (double)Seconds / 60;
        return Math.Min(1, Admitted / Math.Max(1, Math.Min(offered, budget)));
    }
}
