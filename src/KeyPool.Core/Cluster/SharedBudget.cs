using KeyPool.Core.Budgets;

namespace KeyPool.Core.Cluster;

/// <summary>
/// One instance's slice of a budget shared by several instances (lease-based global rate limiting, as in
/// Doorman or Envoy's global rate limit service). The request path spends a lease held in memory and never
/// waits on the ledger; <see cref="SharedBudgets"/> leases the next second ahead, tops the current one up
/// when it runs low and gives back what was not spent. While the ledger is unreachable the budget falls
/// back to 1/N of the limits, charged with the last known use, and what it spends then is written to the
/// ledger when it is back, so the sum over all instances never passes the limits.
/// </summary>
/// <remarks>
/// A coordinator of four parts, each the one owner of its state: the <see cref="LeaseAccount"/> (the leases
/// held), the <see cref="DemandEstimate"/> (what is asked for, which sizes the leases), the <see cref="SpendLog"/>
/// (what was spent and what the ledger was told) and the <see cref="FallbackWindow"/> while the ledger is away.
/// </remarks>
public sealed class SharedBudget
{
    private readonly Lock _lock = new();
    private readonly LeaseAccount _lease = new();
    private readonly DemandEstimate _demand = new();
    private readonly SpendLog _spends = new();
    private FallbackWindow? _fallback;
    private BudgetLimits _limits;

    internal SharedBudget(BudgetKey key, BudgetLimits limits)
    {
        Key = key;
        _limits = limits;
    }

    /// <summary>The budget's name in the ledger.</summary>
    public BudgetKey Key { get; }

    /// <summary>The limits of the whole budget (all instances together).</summary>
    public BudgetLimits Limits
    {
        get => _limits;
        internal set => _limits = value;
    }

    /// <summary>Whether this budget is on its 1/N fallback now (until the first round after the ledger is back).</summary>
    public bool OnFallback => Volatile.Read(ref _fallback) is not null;

    /// <summary>The busiest window's use the ledger reported last (all instances).</summary>
    public (long Requests, long Tokens) LastWindowUse { get; private set; }

    /// <summary>
    /// Takes one request and <paramref name="tokens"/> from this instance's lease for <paramref name="second"/>.
    /// False when the lease has no room: the caller treats the key as out of budget, and the lease is topped up
    /// in the background.
    /// </summary>
    public bool TryTake(long second, long tokens)
    {
        lock (_lock)
        {
            _demand.Note(second, tokens);
            if (_fallback is { } fallback)
            {
                if (!fallback.TryTake(second, tokens))
                {
                    return false;
                }
                _spends.Spent(second, 1, tokens);
                return true;
            }
            if (_lease.TryTake(second, tokens, _spends))
            {
                return true;
            }
            _demand.Missed(tokens);
            return false;
        }
    }

    /// <summary>Gives back a take the caller could not use (the local window refused the request).</summary>
    public void Untake(long second, long tokens)
    {
        lock (_lock)
        {
            if (_fallback is { } fallback)
            {
                fallback.Settle(second, tokens, 0);
                _spends.Spent(second, 0, -tokens);
            }
            else if (!_lease.TryReturn(second, 1, tokens))
            {
                _spends.Spent(second, -1, -tokens);
            }
        }
    }

    /// <summary>Replaces a reservation taken at <paramref name="second"/> with what the request really cost.</summary>
    public void Settle(long second, long reserved, long actual)
    {
        var delta = actual - reserved;
        if (delta == 0)
        {
            return;
        }
        lock (_lock)
        {
            if (_fallback is { } fallback)
            {
                fallback.Settle(second, reserved, actual);
                _spends.Spent(second, 0, delta);
            }
            else if (!_lease.TryReturn(second, 0, -delta))
            {
                _spends.Spent(second, 0, delta);
            }
        }
    }

    /// <summary>Whether the budget was used recently enough to keep leasing for it (or has a fallback to leave).</summary>
    internal bool IsActive(long second)
    {
        lock (_lock)
        {
            return !_demand.IsIdle(second) || _fallback is not null || _lease.Second >= second - 1 || _lease.NextSecond >= second || _spends.Owes(second);
        }
    }

    /// <summary>
    /// One round with the ledger: leaves a settled fallback, writes what is owed, tops up the current second when it
    /// runs low and leases the next second ahead. Throws <see cref="ClusterUnavailableException"/> (or what the ledger
    /// threw) when the ledger is unreachable; nothing owed is lost then.
    /// </summary>
    internal async Task RefreshAsync(IBudgetLedger ledger, long second, int instances, CancellationToken cancellationToken)
    {
        List<(long Second, long Requests, long Tokens)> owed;
        lock (_lock)
        {
            if (_fallback is { Settling: false })
            {
                return; // the ledger is away for this budget: the round that finds it back writes first
            }
            Volatile.Write(ref _fallback, null);
            _lease.Roll(second, _spends);
            owed = _spends.TakeOwed(second);
        }
        await WriteAsync(ledger, owed, cancellationToken).ConfigureAwait(false);

        LeaseRequest? topUp, ahead;
        lock (_lock)
        {
            if (_demand.IsIdle(second))
            {
                return; // idle: leases lapse and are given back
            }
            (topUp, ahead) = _demand.Plan(second, _lease, Limits.RequestsPerSecond, instances);
        }
        var limits = Limits;
        if (topUp is { } current)
        {
            Accept(current.Second, await ledger.LeaseAsync(Key, limits, current, cancellationToken).ConfigureAwait(false));
        }
        if (ahead is { } next)
        {
            Accept(next.Second, await ledger.LeaseAsync(Key, limits, next, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>
    /// The ledger is unreachable: from now on spend at most 1/<paramref name="instances"/> of the limits, charged
    /// with 1/<paramref name="instances"/> of the last known use of all instances (their leases are still in that
    /// window). The leases held are given back: their grants are part of that use.
    /// </summary>
    internal void EnterFallback(long second, int instances)
    {
        lock (_lock)
        {
            if (_fallback is { } settling)
            {
                settling.Settling = false; // away again before leasing resumed
                return;
            }
            _lease.Drop(_spends);
            Volatile.Write(ref _fallback, new FallbackWindow(Limits, instances, LastWindowUse, second));
        }
    }

    /// <summary>
    /// The ledger is back: what was spent on the fallback and not written (everything this instance spent within the
    /// last minute, when the ledger lost its data) is written to it now; the fallback is left at the next round, so
    /// leases granted from then on count every instance's outage spends.
    /// </summary>
    internal async Task ResynchroniseAsync(IBudgetLedger ledger, long second, bool ledgerLost, CancellationToken cancellationToken)
    {
        List<(long Second, long Requests, long Tokens)> owed;
        lock (_lock)
        {
            if (_fallback is null && !ledgerLost)
            {
                return;
            }
            if (ledgerLost)
            {
                _spends.LedgerLost();
            }
            owed = _spends.TakeOwed(second);
        }
        await WriteAsync(ledger, owed, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _fallback?.Settling = true;
        }
    }

    private async Task WriteAsync(IBudgetLedger ledger, List<(long Second, long Requests, long Tokens)> owed, CancellationToken cancellationToken)
    {
        for (var i = 0; i < owed.Count; i++)
        {
            var (s, requests, tokens) = owed[i];
            try
            {
                await ledger.AdjustAsync(Key, s, requests, tokens, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                lock (_lock)
                {
                    foreach (var (unwritten, r, t) in owed.Skip(i))
                    {
                        _spends.Unwrite(unwritten, r, t);
                    }
                }
                throw;
            }
        }
    }

    private void Accept(long second, LeaseGrant grant)
    {
        lock (_lock)
        {
            LastWindowUse = (grant.WindowRequests, grant.WindowTokens);
            if (_fallback is null)
            {
                _lease.Accept(second, grant, _spends);
            }
            else if (grant.Requests != 0 || grant.Tokens != 0)
            {
                // Arrived after the ledger went away: given back when it is back.
                _spends.Granted(second, grant.Requests, grant.Tokens);
                _spends.Spent(second, -grant.Requests, -grant.Tokens);
            }
        }
    }
}
