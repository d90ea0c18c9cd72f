using System.Collections.Concurrent;
using KeyPool.Core.Budgets;

namespace KeyPool.Core.Cluster;

/// <summary>
/// Every <see cref="SharedBudget"/> of this instance and the rounds with the ledger that keep them
/// supplied: <see cref="RefreshAsync"/> runs every <see cref="ClusterOptions.LeaseInterval"/> (and when a
/// request found its lease empty), sends the heartbeat, switches all budgets to their 1/N fallback when the
/// ledger is unreachable and back when it answers again.
/// </summary>
public sealed class SharedBudgets
{
    private readonly ConcurrentDictionary<(string Team, int ModelId), SharedBudget> _budgets = new();
    private readonly IBudgetLedger _ledger;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly SemaphoreSlim _round = new(1, 1);
    private int _wakePending;
    private long _lastHeartbeat = long.MinValue;
    private int _heartbeatCount;
    private string? _epoch;

    /// <summary>Creates the budgets of one instance over <paramref name="ledger"/>.</summary>
    public SharedBudgets(IBudgetLedger ledger, ClusterOptions options, ClusterHealth health, TimeProvider time)
    {
        _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        Health = health ?? throw new ArgumentNullException(nameof(health));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        InstanceId = options.ResolveInstanceId();
    }

    /// <summary>This instance's name in heartbeats.</summary>
    public string InstanceId { get; }

    /// <summary>Whether the ledger is reachable.</summary>
    public ClusterHealth Health { get; }

    /// <summary>The N of the 1/N fallback: configured, else the last heartbeat count, at least 1.</summary>
    public int Instances => _options.Instances > 0 ? _options.Instances : Math.Max(1, Volatile.Read(ref _heartbeatCount));

    /// <summary>The budgets used so far.</summary>
    public IEnumerable<SharedBudget> All => _budgets.Values;

    /// <summary>
    /// The shared budget of <paramref name="team"/> for <paramref name="modelId"/> (named <paramref name="modelName"/>
    /// in the ledger); a dictionary lookup on the request path, created on first use.
    /// </summary>
    public SharedBudget For(string team, BudgetLimits limits, int modelId, string modelName)
    {
        ArgumentNullException.ThrowIfNull(team);
        if (_budgets.TryGetValue((team, modelId), out var budget))
        {
            if (budget.Limits != limits)
            {
                budget.Limits = limits; // a reload changed the team's limits
            }
            return budget;
        }
        var created = new SharedBudget(new BudgetKey(team, modelName), limits);
        if (Health.DegradedReason is not null)
        {
            created.EnterFallback(Second, Instances);
        }
        return _budgets.GetOrAdd((team, modelId), created);
    }

    /// <summary>
    /// Drops the budgets of the teams not in <paramref name="teams"/> (their keys left the pool): rounds no longer lease
    /// for them, and a team that comes back starts from the ledger's counts. Requests admitted before keep the lease they
    /// reserved from.
    /// </summary>
    public void Retain(IEnumerable<string> teams)
    {
        var kept = new HashSet<string>(teams ?? throw new ArgumentNullException(nameof(teams)), StringComparer.Ordinal);
        foreach (var key in _budgets.Keys)
        {
            if (!kept.Contains(key.Team))
            {
                _budgets.TryRemove(key, out _);
            }
        }
    }

    /// <summary>Asks for a round soon (a request found its lease empty); never blocks.</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Waits until <see cref="Wake"/> is called or <paramref name="timeout"/> passes (real time: the round's own pace).</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _wake.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _wakePending, 0);
    }

    /// <summary>
    /// One round with the ledger for every budget in use. Never throws for an unreachable ledger: it falls back
    /// instead. Returns what changed, for the caller to log (once per change).
    /// </summary>
    public async Task<RoundOutcome> RefreshAsync(CancellationToken cancellationToken)
    {
        await _round.WaitAsync(cancellationToken).ConfigureAwait(false);
        var outcome = default(RoundOutcome);
        try
        {
            var now = _time.GetUtcNow();
            var second = now.ToUnixTimeSeconds();
            try
            {
                var heartbeatDue = _lastHeartbeat == long.MinValue
                    || _time.GetTimestamp() - _lastHeartbeat >= _options.HeartbeatInterval.TotalSeconds * _time.TimestampFrequency
                    || Health.DegradedReason is not null;
                var ledgerLost = false;
                if (heartbeatDue)
                {
                    var beat = await _ledger.HeartbeatAsync(InstanceId, second, (long)Math.Ceiling(_options.HeartbeatTimeout.TotalSeconds), cancellationToken).ConfigureAwait(false);
                    Volatile.Write(ref _heartbeatCount, beat.Instances);
                    Health.Instances = Instances;
                    _lastHeartbeat = _time.GetTimestamp();
                    ledgerLost = _epoch is not null && _epoch != beat.Epoch;
                    _epoch = beat.Epoch;
                }
                var wasDown = Health.DegradedReason is not null;
                if (wasDown || ledgerLost)
                {
                    foreach (var budget in _budgets.Values)
                    {
                        await budget.ResynchroniseAsync(_ledger, second, ledgerLost, cancellationToken).ConfigureAwait(false);
                    }
                    if (Health.MarkUp() || ledgerLost)
                    {
                        outcome = new RoundOutcome(RoundChange.Back, null, Instances, ledgerLost);
                    }
                    if (wasDown)
                    {
                        // No lease this round: the other instances write their outage spends in theirs, and a lease
                        // granted before they have would not count them.
                        return outcome;
                    }
                }
                var instances = Math.Max(1, Volatile.Read(ref _heartbeatCount));
                // All budgets at once: the connection pipelines the scripts, so a round costs about one round-trip
                // however many (team, model) budgets there are.
                await Task.WhenAll(_budgets.Values
                    .Where(b => b.IsActive(second))
                    .Select(b => b.RefreshAsync(_ledger, second, instances, cancellationToken))).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var reason = e is ClusterUnavailableException ? e.Message : $"shared state failed: {e.GetType().Name}: {e.Message}";
                var instances = Instances;
                foreach (var budget in _budgets.Values)
                {
                    budget.EnterFallback(second, instances);
                }
                if (Health.MarkDown(reason))
                {
                    outcome = new RoundOutcome(RoundChange.Down, reason, instances, false);
                }
            }
        }
        finally
        {
            _round.Release();
        }
        return outcome;
    }

    private long Second => _time.GetUtcNow().ToUnixTimeSeconds();
}

/// <summary>What a round changed: the shared state went down or came back.</summary>
public enum RoundChange
{
    /// <summary>Nothing to report.</summary>
    None,

    /// <summary>The ledger became unreachable: every budget is on its 1/N fallback.</summary>
    Down,

    /// <summary>The ledger answers again (or was found to have lost its data): spends written, leasing again.</summary>
    Back,
}

/// <summary>The result of <see cref="SharedBudgets.RefreshAsync"/>.</summary>
/// <param name="Change">What changed.</param>
/// <param name="Reason">Why the ledger is unreachable (<see cref="RoundChange.Down"/>).</param>
/// <param name="Instances">The N of the fallback.</param>
/// <param name="LedgerLost">The ledger had lost its data (<see cref="RoundChange.Back"/>).</param>
public readonly record struct RoundOutcome(RoundChange Change, string? Reason, int Instances, bool LedgerLost);
