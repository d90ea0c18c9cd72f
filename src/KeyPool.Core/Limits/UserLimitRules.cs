namespace KeyPool.Core.Limits;

/// <summary>
/// The arithmetic of a tier's per-user limits, apart from where the counts are kept. Minute limits are token
/// buckets (GCRA: one timestamp per limit, like OpenAI's and Anthropic's own per-minute limits): a user may spend
/// a whole minute's allowance at once, and it refills continuously at a sixtieth a second. The day limit counts
/// tokens per UTC day.
/// </summary>
internal static class UserLimitRules
{
    private const long Minute = TimeSpan.TicksPerMinute;

    /// <summary>
    /// Admits (reserving in <paramref name="counter"/>) or refuses one request of <paramref name="tokens"/> at
    /// <paramref name="now"/>, under the counter's lock; the limits are this instance's shares.
    /// </summary>
    public static UserLimitDecision Decide(UserCounter counter, in UserLimits limits, long? rpm, long? tpm, long? tpd, long tokens, int instances, long now, int day)
    {
        if (counter.Day != day)
        {
            counter.Day = day;
            counter.DayTokens = 0;
            counter.Seed = 0;
            counter.DayRefused = false;
            if (counter.SeedState == SeedState.Reading)
            {
                counter.SeedState = SeedState.Done; // yesterday's read: ignored when it lands
            }
        }
        var requestTat = counter.RequestTat;
        if (rpm is { } requestLimit)
        {
            Rescale(ref counter.RequestTat, ref counter.RequestLimit, requestLimit, now);
            requestTat = Math.Max(counter.RequestTat, now) + Cost(1, requestLimit);
            if (requestTat - now > Minute)
            {
                return Refused(UserLimitKind.RequestsPerMinute, limits.RequestsPerMinute!.Value, requestTat - Minute - now);
            }
        }
        var tokenTat = counter.TokenTat;
        if (tpm is { } tokenLimit)
        {
            Rescale(ref counter.TokenTat, ref counter.TokenLimit, tokenLimit, now);
            var cost = Cost(tokens, tokenLimit);
            tokenTat = Math.Max(counter.TokenTat, now) + cost;
            // A request bigger than the whole minute passes only into a full bucket, otherwise it never could.
            if (tokenTat - now > Minute && counter.TokenTat > now)
            {
                var wait = cost > Minute ? counter.TokenTat - now : tokenTat - Minute - now;
                return Refused(UserLimitKind.TokensPerMinute, limits.TokensPerMinute!.Value, wait);
            }
        }
        if (tpd is { } dayLimit)
        {
            var used = counter.DayTokens + (counter.Seed / instances);
            if (used + tokens > dayLimit && used > 0)
            {
                counter.DayRefused = true;
                return Refused(UserLimitKind.TokensPerDay, limits.TokensPerDay!.Value, ((day + 1) * TimeSpan.TicksPerDay) - now);
            }
            counter.DayTokens += tokens;
        }
        counter.RequestTat = requestTat;
        counter.TokenTat = tokenTat;
        return default;
    }

    /// <summary>Replaces a reservation with the real usage, under the counter's lock.</summary>
    public static void Settle(UserCounter counter, long reserved, long actual, long tokenLimit, int day, long now)
    {
        counter.InFlight--;
        if (tokenLimit > 0 && counter.TokenLimit > 0)
        {
            tokenLimit = counter.TokenLimit; // the limit may have changed since admission: the bucket counts in today's units
            // A refund never fills the bucket beyond full (now); usage beyond the estimate is owed.
            var delta = Cost(actual, tokenLimit) - Cost(reserved, tokenLimit);
            counter.TokenTat = Math.Max(now, Math.Max(counter.TokenTat, now) + delta);
        }
        if (day < 0)
        {
            return;
        }
        if (counter.Day == day)
        {
            counter.DayTokens = Math.Max(0, counter.DayTokens + actual - reserved);
        }
        else if (counter.Day == (int)(now / TimeSpan.TicksPerDay))
        {
            counter.DayTokens += actual; // began before midnight, answered after: the store counts it on the day answered
        }
    }

    /// <summary>This instance's share of a limit shared by <paramref name="instances"/>, rounded up.</summary>
    public static long? Share(long? limit, int instances) => limit is { } value ? (value + instances - 1) / instances : null;

    // A bucket's time ahead of now is what was used, in the units of the limit it was counted under: when the limit
    // (the tier, or the number of instances sharing it) changes, the same use is a different share of the new one.
    private static void Rescale(ref long tat, ref long countedUnder, long limit, long now)
    {
        if (countedUnder != limit)
        {
            if (countedUnder > 0 && tat > now)
            {
                tat = now + (long)Int128.Min((Int128)(tat - now) * countedUnder / limit, long.MaxValue / 4);
            }
            countedUnder = limit;
        }
    }

    private static UserLimitDecision Refused(UserLimitKind kind, long limit, long waitTicks) =>
        new(default, kind, limit, (int)Math.Clamp((waitTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond, 1, int.MaxValue));

    // The time one unit of a limit of `limit` a minute takes to refill: tokens × 60 s / limit, in ticks, without overflow.
    private static long Cost(long units, long limit) => units <= long.MaxValue / Minute
        ? units * Minute / limit // the common case: Int128 division is a software routine
        : (long)Int128.Min((Int128)units * Minute / limit, long.MaxValue / 4);
}
