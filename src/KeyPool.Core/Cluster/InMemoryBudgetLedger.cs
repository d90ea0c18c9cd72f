using KeyPool.Core.Budgets;

namespace KeyPool.Core.Cluster;

/// <summary>
/// The budget ledger in this process's memory, with the arithmetic of the Redis ledger (per budget and second, what
/// was granted; a grant for a second keeps every 61-second window containing it within the minute limits and the
/// second within the per-second caps). It serves instances that share one process (tests, simulations), and it can
/// be made unreachable (<see cref="Reachable"/>) or lose its data (<see cref="Lose"/>) as a real ledger does.
/// </summary>
public sealed class InMemoryBudgetLedger : IBudgetLedger
{
    private const int Window = 61;
    private const int Kept = 130;

    private readonly Lock _lock = new();
    private readonly Dictionary<BudgetKey, Dictionary<long, (long Requests, long Tokens)>> _budgets = [];
    private readonly Dictionary<string, long> _instances = new(StringComparer.Ordinal);
    private string _epoch = Guid.NewGuid().ToString("N");

    /// <summary>Whether calls succeed; false makes each throw <see cref="ClusterUnavailableException"/> (the ledger is down).</summary>
    public bool Reachable { get; set; } = true;

    /// <summary>Forgets everything, as a ledger restarted without persistence: a new epoch.</summary>
    public void Lose()
    {
        lock (_lock)
        {
            _budgets.Clear();
            _instances.Clear();
            _epoch = Guid.NewGuid().ToString("N");
        }
    }

    /// <summary>Requests and tokens granted for <paramref name="second"/> of <paramref name="key"/>, all instances together.</summary>
    public (long Requests, long Tokens) Granted(BudgetKey key, long second)
    {
        lock (_lock)
        {
            return _budgets.TryGetValue(key, out var seconds) ? seconds.GetValueOrDefault(second) : default;
        }
    }

    /// <summary>The most requests granted in any 61-second window of <paramref name="key"/> (what the upstream would count at worst).</summary>
    public long BusiestWindowRequests(BudgetKey key)
    {
        lock (_lock)
        {
            if (!_budgets.TryGetValue(key, out var seconds) || seconds.Count == 0)
            {
                return 0;
            }
            var best = 0L;
            for (var start = seconds.Keys.Min() - Window + 1; start <= seconds.Keys.Max(); start++)
            {
                var sum = 0L;
                for (var s = start; s < start + Window; s++)
                {
                    sum += seconds.GetValueOrDefault(s).Requests;
                }
                best = Math.Max(best, sum);
            }
            return best;
        }
    }

    /// <inheritdoc />
    public Task<LeaseGrant> LeaseAsync(BudgetKey key, BudgetLimits limits, LeaseRequest request, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        lock (_lock)
        {
            var seconds = SecondsOf(key, request.Second);
            var s = request.Second;
            var (windowRequests, windowTokens) = Busiest(seconds, s);
            var (secondRequests, secondTokens) = seconds.GetValueOrDefault(s);
            var roomRequests = Math.Min(limits.RequestsPerMinute - windowRequests, limits.RequestsPerSecond - secondRequests);
            // A request bigger than a second's (or minute's) tokens passes only into an empty second (window).
            var minuteTokens = windowTokens == 0 ? Math.Max(limits.TokensPerMinute, request.Tokens) : limits.TokensPerMinute - windowTokens;
            var secondTokensLeft = secondTokens == 0 ? Math.Max(limits.TokensPerSecond, request.Tokens) : limits.TokensPerSecond - secondTokens;
            var roomTokens = Math.Min(minuteTokens, secondTokensLeft);
            long grantedRequests = 0, grantedTokens = 0;
            if (roomRequests > 0 && roomTokens >= request.MinTokens)
            {
                var share = Math.Max(1, request.Share);
                grantedRequests = Math.Min(request.Requests, Math.Max(1, (roomRequests + share - 1) / share));
                grantedTokens = Math.Min(Math.Min(request.Tokens, roomTokens), Math.Max(request.MinTokens, (roomTokens + share - 1) / share));
                seconds[s] = (secondRequests + grantedRequests, secondTokens + grantedTokens);
            }
            return Task.FromResult(new LeaseGrant(grantedRequests, grantedTokens, windowRequests + grantedRequests, windowTokens + grantedTokens));
        }
    }

    /// <inheritdoc />
    public Task AdjustAsync(BudgetKey key, long second, long requests, long tokens, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        lock (_lock)
        {
            var seconds = SecondsOf(key, second);
            var (r, t) = seconds.GetValueOrDefault(second);
            seconds[second] = (Math.Max(0, r + requests), Math.Max(0, t + tokens));
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<ClusterBeat> HeartbeatAsync(string instanceId, long second, long timeoutSeconds, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        lock (_lock)
        {
            _instances[instanceId] = second;
            foreach (var gone in _instances.Where(i => i.Value <= second - timeoutSeconds).Select(i => i.Key).ToArray())
            {
                _instances.Remove(gone);
            }
            return Task.FromResult(new ClusterBeat(_instances.Count, _epoch));
        }
    }

    private void ThrowIfDown()
    {
        if (!Reachable)
        {
            throw new ClusterUnavailableException("the in-memory ledger is unreachable");
        }
    }

    private Dictionary<long, (long Requests, long Tokens)> SecondsOf(BudgetKey key, long second)
    {
        if (!_budgets.TryGetValue(key, out var seconds))
        {
            _budgets[key] = seconds = [];
        }
        foreach (var old in seconds.Keys.Where(s => s < second - Kept).ToArray())
        {
            seconds.Remove(old);
        }
        return seconds;
    }

    // The busiest 61-second window containing `second` (a grant for it must keep every such window within the limits).
    private static (long Requests, long Tokens) Busiest(Dictionary<long, (long Requests, long Tokens)> seconds, long second)
    {
        long bestRequests = 0, bestTokens = 0;
        for (var start = second - Window + 1; start <= second; start++)
        {
            long requests = 0, tokens = 0;
            for (var s = start; s < start + Window; s++)
            {
                var (r, t) = seconds.GetValueOrDefault(s);
                requests += r;
                tokens += t;
            }
            bestRequests = Math.Max(bestRequests, requests);
            bestTokens = Math.Max(bestTokens, tokens);
        }
        return (bestRequests, bestTokens);
    }
}
