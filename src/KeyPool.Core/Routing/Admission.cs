using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.Fairness;

namespace KeyPool.Core.Routing;

/// <summary>A request let through to one key, holding its reservation until it is settled.</summary>
/// <remarks>
/// <paramref name="Lease"/> is the shared budget the request also spent from, or null when this instance is alone. On the
/// request path the request's budget (<c>Requests.RequestBudget</c>) holds it and settles it, once.
/// </remarks>
public readonly record struct Admission(PoolMember Member, RouteReason Reason, RateWindow Window, long Second, long ReservedTokens, int ModelId = 0, SharedBudget? Lease = null)
{
    /// <summary>
    /// Replaces the reservation with what the request really cost (0 when the upstream refused it) and returns the team's
    /// window for the model now (a change of its limits since the admission replaced <see cref="Window"/>). Call once.
    /// </summary>
    internal RateWindow Settle(long actualTokens)
    {
        Window.Settle(Second, ReservedTokens, actualTokens);
        Lease?.Settle(Second, ReservedTokens, actualTokens);
        var current = Member.Budget.For(ModelId);
        if (current.Window != Window && current.CarriedAt >= Second)
        {
            // The new window was charged what this one counted, this reservation included, at the change's second:
            // the correction goes there too, or the new window keeps the estimate.
            current.Window.Correct(current.CarriedAt, actualTokens - ReservedTokens);
        }
        return current.Window;
    }
}

/// <summary>What a policy is asked to place.</summary>
/// <param name="UserGroup">The user's group (0 for requests of no user).</param>
/// <param name="ModelId">The model's id from <see cref="PoolSnapshot.ModelId"/>.</param>
/// <param name="Tokens">Tokens to reserve.</param>
/// <param name="Second">The current Unix second.</param>
/// <param name="ExcludeGroup">A group not to use (the one that just failed), or 0.</param>
/// <param name="Fairness">The users' recent usage, or null for a request of no user: where a budget is short, a user over their
/// fair share is admitted only if the others keep what they need (<see cref="RateWindow.TryAcquire"/>).</param>
/// <param name="UserHash">The user's <see cref="FairShare.Hash"/>.</param>
public readonly record struct SelectionRequest(int UserGroup, int ModelId, long Tokens, long Second, int ExcludeGroup = 0, FairShare? Fairness = null, int UserHash = 0);
