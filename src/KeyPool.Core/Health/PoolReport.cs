using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Health;

/// <summary>The state and budget use of one key, for health and stats.</summary>
public sealed record KeyReport(
    int Group,
    string MaskedKey,
    string Team,
    KeyState State,
    string? Reason,
    long RequestsUsed,
    int RequestsLimit,
    long TokensUsed,
    long TokensLimit,
    long SpillsIn,
    long Rejections);

/// <summary>Reads the pool for health: each key's state, and the grade of the pool as a whole.</summary>
public static class PoolReport
{
    /// <summary>One report per key, in group order.</summary>
    public static IReadOnlyList<KeyReport> Keys(PoolSnapshot pool, long second)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var reports = new KeyReport[pool.Members.Count];
        for (var i = 0; i < reports.Length; i++)
        {
            var member = pool.Members[i];
            long requests = 0, tokens = 0;
            var saturated = false;
            foreach (var window in pool.WindowsOf(member))
            {
                var used = window.Used(second);
                requests += used.Requests;
                tokens += used.Tokens;
                saturated |= window.Headroom(second) <= 0;
            }
            var state = member.Health.State;
            if (state == KeyState.Active && saturated)
            {
                state = KeyState.Saturated;
            }
            var reason = member.Health.RevokedReason ?? member.Health.CoolingReason;
            reports[i] = new KeyReport(member.Group, member.Key.Masked, member.Team, state, reason,
                requests, member.Limits.RequestsPerMinute, tokens, member.Limits.TokensPerMinute, member.SpillsIn, member.Rejections);
        }
        return reports;
    }

    /// <summary>
    /// Grades the pool on the capacity it really has: keys that are revoked or cooling do not count,
    /// and keys sharing a team count once (they share one budget).
    /// </summary>
    public static PoolHealth Grade(PoolSnapshot pool, IReadOnlyList<KeyReport> keys, CapacityOptions capacity)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(keys);
        var usableTeams = keys.Where(k => k.State is KeyState.Active or KeyState.Saturated).Select(k => k.Team).Distinct().Count();
        var reasons = new List<string>();
        var revoked = keys.Count(k => k.State == KeyState.Revoked);
        var cooling = keys.Count(k => k.State.IsCooling());
        if (revoked > 0)
        {
            reasons.Add($"{Plural(revoked, "key")} revoked: {string.Join(", ", keys.Where(k => k.State == KeyState.Revoked).Select(k => k.Group))}");
        }
        if (cooling > 0)
        {
            reasons.Add($"{Plural(cooling, "key")} cooling down: {string.Join(", ", keys.Where(k => k.State.IsCooling()).Select(k => k.Group))}");
        }
        reasons.AddRange(SharedTeams(pool));
        return HealthGrader.Grade(keys.Count, usableTeams, capacity, reasons.Count == 0 ? null : string.Join("; ", reasons));
    }

    /// <summary>Plain sentences about keys that share a team, e.g. "keys 3, 9 and 12 share team X: they add no capacity".</summary>
    public static IEnumerable<string> SharedTeams(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        foreach (var team in pool.Teams.Where(t => t.Length > 1))
        {
            var groups = team.Select(m => m.Group).ToArray();
            var list = string.Join(", ", groups[..^1]) + " and " + groups[^1];
            yield return $"keys {list} share team {team[0].Team}: they add no capacity";
        }
    }

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}
