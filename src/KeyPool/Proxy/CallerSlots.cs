namespace KeyPool.Proxy;

/// <summary>
/// Requests in flight per caller (an end user), so one caller cannot hold the gateway's whole concurrency cap. Counted in a
/// fixed table (two rows of 65,536 counters, count-min style): no per-caller allocation and nothing to evict; a caller is
/// refused only when both of its counters are full, which another caller's traffic alone cannot cause unless their
/// 32-bit hashes are equal.
/// </summary>
internal sealed class CallerSlots(int limit)
{
    private const int RowBits = 16;
    private const int RowMask = (1 << RowBits) - 1;

    private readonly int[] _rows = new int[2 << RowBits];
    private readonly Refusal _busy = new(429, Errors.OpenAiError.RateLimit, "too_many_concurrent_requests",
        $"This caller already has its limit of {limit} requests in flight (KeyPool:Limits:MaxConcurrentRequestsPerUser): retry when one has finished.", RetryAfterSeconds: 1);

    /// <summary>The most requests of one caller at once.</summary>
    public int Limit { get; } = limit;

    /// <summary>Takes a slot of <paramref name="caller"/>; on success <paramref name="ticket"/> is what <see cref="Leave"/> needs.</summary>
    public bool TryEnter(string caller, out int ticket)
    {
        ticket = caller.GetHashCode();
        var (first, second) = Cells(ticket);
        var a = Interlocked.Increment(ref _rows[first]);
        var b = Interlocked.Increment(ref _rows[second]);
        if (Math.Min(a, b) <= Limit)
        {
            return true;
        }
        Leave(ticket);
        return false;
    }

    public void Leave(int ticket)
    {
        var (first, second) = Cells(ticket);
        Interlocked.Decrement(ref _rows[first]);
        Interlocked.Decrement(ref _rows[second]);
    }

    /// <summary>
    /// Holds a slot of <paramref name="caller"/> for <paramref name="exchange"/> (once: a later call is a no-op); the
    /// refusal when the caller already has <see cref="Limit"/> requests in flight. <see cref="Release"/> gives it back.
    /// </summary>
    public Refusal? Hold(ProxyExchange exchange, string caller)
    {
        if (exchange.CallerSlot is not null)
        {
            return null;
        }
        if (!TryEnter(caller, out var ticket))
        {
            return _busy;
        }
        exchange.CallerSlot = ticket;
        return null;
    }

    public void Release(ProxyExchange exchange)
    {
        if (exchange.CallerSlot is { } ticket)
        {
            exchange.CallerSlot = null;
            Leave(ticket);
        }
    }

    private static (int First, int Second) Cells(int hash) => (hash & RowMask, (1 << RowBits) + ((hash >>> RowBits) & RowMask));
}
