using KeyPool.Core.Budgets;

namespace KeyPool.Core.Cluster;

/// <summary>
/// The shared ledger behind <see cref="SharedBudget"/>: per budget and second, what all instances were
/// granted. Every call is atomic on the shared side. Implementations throw
/// <see cref="ClusterUnavailableException"/> when the shared state cannot be reached.
/// </summary>
public interface IBudgetLedger
{
    /// <summary>
    /// Grants up to <paramref name="request"/> for <see cref="LeaseRequest.Second"/>, so that no sliding
    /// 61-second window containing that second passes the limits and no second passes the per-second caps.
    /// </summary>
    Task<LeaseGrant> LeaseAsync(BudgetKey key, BudgetLimits limits, LeaseRequest request, CancellationToken cancellationToken);

    /// <summary>Adds <paramref name="requests"/> and <paramref name="tokens"/> (negative: gives back) to what <paramref name="second"/> was granted; never below zero.</summary>
    Task AdjustAsync(BudgetKey key, long second, long requests, long tokens, CancellationToken cancellationToken);

    /// <summary>
    /// Says <paramref name="instanceId"/> is alive at <paramref name="second"/>; returns how many instances were heard
    /// from within <paramref name="timeoutSeconds"/>, and the ledger's epoch.
    /// </summary>
    Task<ClusterBeat> HeartbeatAsync(string instanceId, long second, long timeoutSeconds, CancellationToken cancellationToken);
}

/// <summary>The answer to a heartbeat.</summary>
/// <param name="Instances">Instances alive, this one included.</param>
/// <param name="Epoch">Changes when the ledger lost its data (a restart without persistence): then every instance writes its last minute again.</param>
public readonly record struct ClusterBeat(int Instances, string Epoch);

/// <summary>One budget shared by all instances: a team's limits for one model.</summary>
/// <param name="Team">The upstream team.</param>
/// <param name="Model">The model name as requested.</param>
public readonly record struct BudgetKey(string Team, string Model);

/// <summary>What an instance asks the ledger for.</summary>
/// <param name="Second">The Unix second the lease is for (the caller's clock).</param>
/// <param name="Requests">Requests wanted.</param>
/// <param name="Tokens">Tokens wanted.</param>
/// <param name="MinTokens">A grant with fewer tokens is useless (the waiting request is this big): then nothing is granted.</param>
/// <param name="Share">Grant at most 1/<paramref name="Share"/> of what is left (instances splitting a second fairly); 1 = no cap.</param>
public readonly record struct LeaseRequest(long Second, long Requests, long Tokens, long MinTokens, int Share);

/// <summary>What the ledger granted, and the busiest window's use after the grant.</summary>
public readonly record struct LeaseGrant(long Requests, long Tokens, long WindowRequests, long WindowTokens);

/// <summary>The shared state cannot be reached; instances fall back to their own share.</summary>
public sealed class ClusterUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClusterUnavailableException()
    {
    }

    /// <summary>Creates the exception with a reason safe to show in health.</summary>
    public ClusterUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a reason and its cause.</summary>
    public ClusterUnavailableException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
