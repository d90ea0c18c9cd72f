using KeyPool.Core.Budgets;

namespace KeyPool.Core.Fairness;

/// <summary>
/// Who gets a short budget: users by what they recently took or asked (<see cref="RecentUsage"/>). A user who took more
/// than <see cref="HeavyMultiple"/> times the average of the other users active lately (and <see cref="MinHeavyUsage"/>)
/// is over their share: a budget lets them in only while the others keep what they need (a second's worth free now,
/// and what frees later covering the others' recent pace: <see cref="RateWindow.TryAcquire(long, long, bool)"/>);
/// refused, they get no promised slot and lose those they hold; waiting, they come after everyone else. Nobody else
/// is ever held back, so the heavy user gets what the others leave and the budget is spent. Only admissions to a short
/// budget (<see cref="RateWindow.IsShort"/>) and requests that found no room (<see cref="RecordRefused"/>) are counted
/// and checked: users of keys with room cost nothing and are not compared with anyone.
/// </summary>
public sealed class FairShare
{
    /// <summary>A user is heavy above this many times the average recent usage of the other active users.</summary>
    public const double HeavyMultiple = 2;

    /// <summary>Below this recent usage (requests over the last half minute to minute) nobody is over their share: tiny counts are noise.</summary>
    public const double MinHeavyUsage = 3;

    /// <summary>A single request costs at most this many requests' worth (a huge prompt on a token-bound key).</summary>
    private const int MaxCost = 1_000;

    private readonly RecentUsage _usage = new();

    /// <summary>The recent usage of every user.</summary>
    public RecentUsage Usage => _usage;

    /// <summary>The sketch hash of <paramref name="userId"/> (stable for the process).</summary>
    public static int Hash(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return userId.GetHashCode(StringComparison.Ordinal);
    }

    /// <summary>Whether the user of <paramref name="hash"/> took more than their share lately (see <see cref="HeavyMultiple"/>).</summary>
    public bool IsHeavy(int hash, long second)
    {
        var (perUser, users) = _usage.AverageAt(second);
        // One user alone is never unfair, nor one with a handful of requests.
        if (users < 1.5 || perUser <= 0)
        {
            return false;
        }
        var usage = _usage.Of(hash, second);
        // Against the others' average, not one that includes the user: with two users, one asking fifty times the
        // other's rate is still never twice the mean of both.
        var others = Math.Max(0, (perUser * users) - usage) / (users - 1);
        return usage >= MinHeavyUsage && usage > HeavyMultiple * others;
    }

    /// <summary>Whether <paramref name="userId"/> took more than their share lately.</summary>
    public bool IsHeavy(string userId, long second) => IsHeavy(Hash(userId), second);

    /// <summary>
    /// Counts a request that found no key with room (once, before it waits or is refused): what a user asks of a full
    /// pool counts as much as what they were given, so a light user refused by a heavy one is seen, and the heavy
    /// one's refused retries make them heavier, never the others.
    /// </summary>
    public void RecordRefused(int hash, long second) => _usage.Record(hash, 1, second);

    /// <summary>
    /// Counts a request admitted to a budget of <paramref name="limits"/>: one request, or more when its tokens are a
    /// larger share of the token budget than one request is of the request budget.
    /// </summary>
    public void Record(int hash, BudgetLimits limits, long tokens, long second)
    {
        var perRequest = Math.Max(1, limits.TokensPerMinute / Math.Max(1, limits.RequestsPerMinute));
        _usage.Record(hash, (int)Math.Clamp(tokens / perRequest, 1, MaxCost), second);
    }
}
