using KeyPool.Core.Budgets;
using KeyPool.Core.Limits;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Requests;

/// <summary>
/// Everything one client request holds against the budgets, and the one place it is settled: the tier's reservation
/// (<see cref="UserReservation"/>), the spend reservation (<see cref="SpendReservation"/>) and, while an attempt runs,
/// its key's (<see cref="Admission"/>: the team's window for the model and, in a cluster, the lease). Each is settled
/// exactly once, with the real usage worked out here alone: an attempt's key when the attempt ends
/// (<see cref="EndAttempt"/>), the tier and the spend when the request ends (<see cref="Settle"/>) with the sum of what
/// its attempts cost. A part is forgotten as it is settled, so a second call finds nothing to settle.
/// </summary>
/// <remarks>
/// A mutable struct, so a request holds it without an allocation: keep it in one place (a field) and reach it by
/// reference; a copy would hold the same reservations.
/// </remarks>
public struct RequestBudget
{
    private UserReservation _tier;
    private SpendReservation? _spend;
    private Admission _key;
    private bool _holdsKey;
    private bool _holdsTier;
    private bool _settled;
    private bool _costUnknown;
    private int _charged;
    private long _tokens;
    private long _costTicks;

    /// <summary>Whether the request was settled (nothing is held any more).</summary>
    public readonly bool IsSettled => _settled;

    /// <summary>Holds the tier's reservation until the request ends.</summary>
    /// <exception cref="InvalidOperationException">One is held already (it would never be settled), or the request was settled.</exception>
    public void Reserve(in UserReservation tier)
    {
        ThrowIfSettled();
        if (_holdsTier)
        {
            throw new InvalidOperationException("The request holds a tier reservation already.");
        }
        (_tier, _holdsTier) = (tier, true);
    }

    /// <summary>Holds the spend reservation until the request ends.</summary>
    /// <exception cref="InvalidOperationException">One is held already, or the request was settled.</exception>
    public void Reserve(SpendReservation spend)
    {
        ArgumentNullException.ThrowIfNull(spend);
        ThrowIfSettled();
        if (_spend is not null)
        {
            throw new InvalidOperationException("The request holds a spend reservation already.");
        }
        _spend = spend;
    }

    /// <summary>Holds the key the next attempt was admitted to, until <see cref="EndAttempt"/>.</summary>
    /// <exception cref="InvalidOperationException">The previous attempt was not ended, or the request was settled.</exception>
    public void Admit(in Admission admission)
    {
        ThrowIfSettled();
        if (_holdsKey)
        {
            throw new InvalidOperationException("The previous attempt still holds its key: end it first.");
        }
        _key = admission;
        _holdsKey = true;
    }

    /// <summary>
    /// Ends the attempt that holds a key: its window and lease are settled with what the attempt cost (nothing when the
    /// upstream refused it or never answered; what it reported when it answered or was cut off, else the estimate), which
    /// the request adds to its own usage. Then the upstream's remaining counts (which include this request) correct the
    /// key's window, and a 429 while they still showed room tightens the team's burst (<see cref="RateWindow.TightenBurst"/>).
    /// Without a key held it does nothing.
    /// </summary>
    /// <param name="outcome">What the upstream did.</param>
    /// <param name="second">The current Unix second.</param>
    /// <param name="costTicks">What the attempt cost in USD ticks (the upstream's figure, else the price table's), when known.</param>
    /// <returns>Whether the team's burst was tightened.</returns>
    public bool EndAttempt(in UpstreamOutcome outcome, long second, long? costTicks = null)
    {
        if (!_holdsKey)
        {
            return false;
        }
        var spent = Spent(outcome, _key.ReservedTokens);
        if (Charged(outcome))
        {
            Charge(spent, costTicks);
        }
        var sent = _key.Second;
        var window = ReleaseKey(spent);
        if (outcome.RemainingRequests is not null || outcome.RemainingTokens is not null)
        {
            window.Observe(second, outcome.RemainingRequests, outcome.RemainingTokens, countedAt: sent);
        }
        return outcome.Kind == OutcomeKind.Answered && outcome.Status == 429
            && window.TightenBurst(second, outcome.RemainingRequests, outcome.RemainingTokens);
    }

    /// <summary>
    /// Ends the request: settles the tier and the spend with what its attempts cost, and a key whose attempt never ended
    /// (an error between admission and answer) with its estimate: its cost is unknown, not zero. Once; later calls
    /// return what the first one settled and settle nothing.
    /// </summary>
    public RequestUsage Settle()
    {
        if (!_settled)
        {
            _settled = true;
            if (_holdsKey)
            {
                Charge(_key.ReservedTokens, null);
                ReleaseKey(_key.ReservedTokens);
            }
            var (tier, spend) = (_tier, _spend);
            (_tier, _spend, _holdsTier) = (default, null, false);
            tier.Settle(_tokens);
            spend?.Settle(_costTicks);
        }
        return new RequestUsage(_tokens, _costTicks, CostStated: _charged > 0 && !_costUnknown);
    }

    // What an attempt cost the upstream in tokens: nothing when it refused the request or never answered; what it reported
    // when it answered or was cut off, else the reservation (the cost is unknown, not zero).
    private static long Spent(in UpstreamOutcome outcome, long reserved) => Charged(outcome) ? outcome.Tokens ?? reserved : 0;

    // Refused (an error status) or never answered: the upstream spent nothing on it.
    private static bool Charged(in UpstreamOutcome outcome) =>
        outcome.Kind is not (OutcomeKind.Unreachable or OutcomeKind.TimedOut) && !outcome.IsErrorStatus;

    // An attempt the upstream charged: its cost in money is the stated one, else the spend reservation's estimate.
    private void Charge(long tokens, long? costTicks)
    {
        _charged++;
        _tokens += tokens;
        _costTicks += costTicks ?? _spend?.Ticks ?? 0;
        _costUnknown |= costTicks is null;
    }

    // The key part is forgotten before it is settled: whatever happens next, it cannot be settled twice.
    private RateWindow ReleaseKey(long actualTokens)
    {
        var key = _key;
        (_key, _holdsKey) = (default, false);
        return key.Settle(actualTokens);
    }

    private readonly void ThrowIfSettled()
    {
        if (_settled)
        {
            throw new InvalidOperationException("The request's budget was already settled.");
        }
    }
}

/// <summary>What a request really cost, as it was settled.</summary>
/// <param name="Tokens">Tokens the upstream spent over all attempts.</param>
/// <param name="CostTicks">Their cost in USD ticks (estimates included where an attempt stated none).</param>
/// <param name="CostStated">Every attempt the upstream charged stated its cost (none was estimated), and there was one.</param>
public readonly record struct RequestUsage(long Tokens, long CostTicks, bool CostStated);
