namespace KeyPool.Core.Cluster;

/// <summary>
/// What this instance spent of one shared budget, by second (granted minus given back, plus what it spent on the
/// fallback), and how much of it the ledger was told: the difference is owed to the ledger. One record serves the
/// three moments that need it: a round writes what is owed, the return of the ledger writes the outage spends, and a
/// ledger that lost its data is written everything again. Not thread-safe: <see cref="SharedBudget"/> guards it.
/// </summary>
internal sealed class SpendLog
{
    /// <summary>Seconds kept: a 61-second window and a second of slack; older seconds concern no lease any more.</summary>
    public const int History = 62;

    private readonly Dictionary<long, Entry> _seconds = [];

    /// <summary>The ledger granted this: spent, and the ledger knows.</summary>
    public void Granted(long second, long requests, long tokens) => Change(second, requests, tokens, requests, tokens);

    /// <summary>Spent (or given back, negative) without the ledger knowing yet.</summary>
    public void Spent(long second, long requests, long tokens) => Change(second, requests, tokens, 0, 0);

    /// <summary>Whether something within the last <see cref="History"/> seconds before <paramref name="second"/> is owed.</summary>
    public bool Owes(long second)
    {
        foreach (var (s, entry) in _seconds)
        {
            if (s >= second - History && entry.Owed != default)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// What is owed for the seconds since <paramref name="second"/> − <see cref="History"/>, counted as written now (give it
    /// back with <see cref="Unwrite"/> if the write fails); what is owed for older seconds is dropped: no window holds it.
    /// </summary>
    public List<(long Second, long Requests, long Tokens)> TakeOwed(long second)
    {
        var owed = new List<(long Second, long Requests, long Tokens)>();
        foreach (var (s, entry) in _seconds)
        {
            if (entry.Owed is var (requests, tokens) && (requests != 0 || tokens != 0) && s >= second - History)
            {
                owed.Add((s, requests, tokens));
            }
        }
        foreach (var (s, _, _) in owed)
        {
            var entry = _seconds[s];
            _seconds[s] = entry with { WrittenRequests = entry.SpentRequests, WrittenTokens = entry.SpentTokens };
        }
        Prune(second);
        return owed;
    }

    /// <summary>A write taken by <see cref="TakeOwed"/> failed: owed again.</summary>
    public void Unwrite(long second, long requests, long tokens) => Change(second, 0, 0, -requests, -tokens);

    /// <summary>The ledger lost its data: nothing was written, so everything spent is owed again.</summary>
    public void LedgerLost()
    {
        foreach (var (s, entry) in _seconds)
        {
            _seconds[s] = entry with { WrittenRequests = 0, WrittenTokens = 0 };
        }
    }

    /// <summary>Spent at <paramref name="second"/> (for tests and figures).</summary>
    public (long Requests, long Tokens) SpentAt(long second) =>
        _seconds.TryGetValue(second, out var entry) ? (entry.SpentRequests, entry.SpentTokens) : default;

    private void Change(long second, long requests, long tokens, long writtenRequests, long writtenTokens)
    {
        if (requests == 0 && tokens == 0 && writtenRequests == 0 && writtenTokens == 0)
        {
            return;
        }
        var (r, t, wr, wt) = _seconds.GetValueOrDefault(second);
        _seconds[second] = new Entry(r + requests, t + tokens, wr + writtenRequests, wt + writtenTokens);
        if (_seconds.Count > (2 * History) + 8)
        {
            Prune(_seconds.Keys.Max());
        }
    }

    private void Prune(long second)
    {
        if (_seconds.Count <= History)
        {
            return;
        }
        foreach (var stale in _seconds.Keys.Where(s => s < second - (2 * History)).ToArray())
        {
            _seconds.Remove(stale);
        }
    }

    private readonly record struct Entry(long SpentRequests, long SpentTokens, long WrittenRequests, long WrittenTokens)
    {
        public (long Requests, long Tokens) Owed => (SpentRequests - WrittenRequests, SpentTokens - WrittenTokens);
    }
}
