namespace KeyPool.Core.Usage;

public sealed partial class UserUsageRecorder
{
    /// <summary>
    /// The cost in USD ticks of <paramref name="day"/>: every instance's flushed usage (the store's) plus this instance's
    /// pending part, read between flushes so nothing is missed or counted twice. Walks the pending table: for a periodic
    /// reader (the alerts), never for a request.
    /// </summary>
    public async Task<long> ReadDayCostAsync(IUserUsageStore store, DateOnly day, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var cost = await store.DayCostAsync(day, cancellationToken).ConfigureAwait(false);
            foreach (var (key, counters) in _pending)
            {
                if (key.Day == day)
                {
                    cost += Volatile.Read(ref counters.CostTicks);
                }
            }
            return cost;
        }
        finally
        {
            _flushGate.Release();
        }
    }
}
