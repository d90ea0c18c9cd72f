namespace KeyPool.Core.Cluster;

/// <summary>
/// The leases one instance holds of one shared budget: what is left of the current second's and the one leased
/// ahead for the next. What a lease did not spend goes back through the <see cref="SpendLog"/>. Not thread-safe:
/// <see cref="SharedBudget"/> guards it.
/// </summary>
internal sealed class LeaseAccount
{
    private long _requestsLeft;
    private long _tokensLeft;
    private long _nextRequests;
    private long _nextTokens;
    private long _exhaustedSecond = long.MinValue; // the ledger had nothing more for this second

    /// <summary>The second of the current lease (<see cref="long.MinValue"/>: none).</summary>
    public long Second { get; private set; } = long.MinValue;

    /// <summary>The second leased ahead (<see cref="long.MinValue"/>: none).</summary>
    public long NextSecond { get; private set; } = long.MinValue;

    /// <summary>Requests left of the current lease.</summary>
    public long RequestsLeft => _requestsLeft;

    /// <summary>Requests granted for the current second in all.</summary>
    public long RequestsGranted { get; private set; }

    /// <summary>Whether the ledger had nothing more for <paramref name="second"/>.</summary>
    public bool IsExhausted(long second) => _exhaustedSecond == second;

    /// <summary>Takes one request and <paramref name="tokens"/> of the lease of <paramref name="second"/> (rolled to it first).</summary>
    public bool TryTake(long second, long tokens, SpendLog log)
    {
        Roll(second, log);
        if (Second != second || _requestsLeft < 1 || _tokensLeft < tokens)
        {
            return false;
        }
        _requestsLeft--;
        _tokensLeft -= tokens;
        return true;
    }

    /// <summary>Adds requests and tokens (negative: spends more) to the lease of <paramref name="second"/>; false when it is not current.</summary>
    public bool TryReturn(long second, long requests, long tokens)
    {
        if (second != Second)
        {
            return false;
        }
        _requestsLeft += requests;
        _tokensLeft += tokens; // may go below zero: the rest is charged when the lease is given back
        return true;
    }

    /// <summary>Moves the lease on to <paramref name="second"/>: what the old one did not spend is given back.</summary>
    public void Roll(long second, SpendLog log)
    {
        if (second <= Second)
        {
            return;
        }
        if (Second != long.MinValue)
        {
            log.Spent(Second, -_requestsLeft, -_tokensLeft);
        }
        if (NextSecond != long.MinValue && NextSecond < second)
        {
            log.Spent(NextSecond, -_nextRequests, -_nextTokens);
            ClearNext();
        }
        Second = second;
        if (NextSecond == second)
        {
            _requestsLeft = _nextRequests;
            RequestsGranted = _nextRequests;
            _tokensLeft = _nextTokens;
            ClearNext();
        }
        else
        {
            _requestsLeft = _tokensLeft = RequestsGranted = 0;
        }
    }

    /// <summary>
    /// Takes what the ledger granted for <paramref name="second"/>: into the current lease, the one ahead, or — too late
    /// to use — straight back.
    /// </summary>
    public void Accept(long second, LeaseGrant grant, SpendLog log)
    {
        if (grant.Requests == 0 && grant.Tokens == 0)
        {
            _exhaustedSecond = Math.Max(_exhaustedSecond, second);
            return;
        }
        log.Granted(second, grant.Requests, grant.Tokens);
        if (second == Second)
        {
            _requestsLeft += grant.Requests;
            _tokensLeft += grant.Tokens;
            RequestsGranted += grant.Requests;
        }
        else if (second > Second && (NextSecond == long.MinValue || NextSecond == second))
        {
            NextSecond = second;
            _nextRequests += grant.Requests;
            _nextTokens += grant.Tokens;
        }
        else
        {
            log.Spent(second, -grant.Requests, -grant.Tokens);
        }
    }

    /// <summary>Gives back both leases (the budget goes on its fallback).</summary>
    public void Drop(SpendLog log)
    {
        if (Second != long.MinValue)
        {
            log.Spent(Second, -_requestsLeft, -_tokensLeft);
        }
        if (NextSecond != long.MinValue)
        {
            log.Spent(NextSecond, -_nextRequests, -_nextTokens);
        }
        Second = long.MinValue;
        _requestsLeft = _tokensLeft = RequestsGranted = 0;
        ClearNext();
    }

    private void ClearNext()
    {
        NextSecond = long.MinValue;
        _nextRequests = _nextTokens = 0;
    }
}
