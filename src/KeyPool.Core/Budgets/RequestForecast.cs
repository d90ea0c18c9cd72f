namespace KeyPool.Core.Budgets;

/// <summary>
/// The forecast of a <see cref="RateWindow"/>: how many requests could start in each coming second if every free one
/// were taken as soon as it frees, played forward on a copy of the window's buckets.
/// </summary>
internal static class RequestForecast
{
    /// <summary>Fills <paramref name="perSecond"/>[i] with the requests that could start at <paramref name="second"/> + i.</summary>
    /// <param name="requests">The window's requests by bucket slot (a copy: the forecast spends into it).</param>
    /// <param name="sum">Requests in the window now.</param>
    /// <param name="credit">The burst credit now, in <paramref name="unit"/>s of a request.</param>
    /// <param name="creditCap">The most burst credit held.</param>
    /// <param name="requestsPerMinute">The limit, also the credit a second adds.</param>
    /// <param name="unit">Credit units per request.</param>
    /// <param name="second">The first second forecast.</param>
    /// <param name="perSecond">The forecast.</param>
    public static void Run(Span<long> requests, long sum, long credit, long creditCap, int requestsPerMinute, long unit, long second, Span<int> perSecond)
    {
        for (var i = 0; i < perSecond.Length; i++)
        {
            var s = second + i;
            if (i > 0)
            {
                var slot = MinuteBuckets.Slot(s);
                sum -= requests[slot]; // the bucket of s - 61 leaves
                requests[slot] = 0;
                credit = Math.Min(creditCap, credit + requestsPerMinute);
            }
            var free = (int)Math.Max(0, Math.Min(requestsPerMinute - sum, credit / unit));
            perSecond[i] = free;
            requests[MinuteBuckets.Slot(s)] += free;
            sum += free;
            credit -= free * unit;
        }
    }
}
