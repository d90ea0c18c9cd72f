using System.Globalization;
using KeyPool.Core.KeyHealth;

namespace KeyPool.Alerts;

/// <summary>
/// Turns the facts of one check into the conditions that hold now. Remembers what a single reading cannot show:
/// since when a key has been cooling, and when the upstream last answered 429.
/// </summary>
internal sealed class AlertRules(AlertOptions options)
{
    // Cents as usual; small sums (a test pool, a cheap model's first hour) keep their first significant digits.
    private const string UsdFormat = "0.00######";

    private readonly Dictionary<int, DateTimeOffset> _coolingSince = [];
    private readonly Dictionary<int, (long Count, DateTimeOffset At)> _rateLimited = [];
    private bool _first = true;

    public List<AlertCondition> Evaluate(AlertFacts facts, DateTimeOffset now)
    {
        var holding = new List<AlertCondition>();
        foreach (var key in facts.Keys)
        {
            if (key.State == KeyState.Revoked)
            {
                holding.Add(new AlertCondition(AlertKinds.KeyRevoked, key.Group, $"the upstream rejected the key of group {key.Group}" + Because(key.Reason)));
            }
            if (key.State.IsCooling())
            {
                var since = _coolingSince.TryAdd(key.Group, now) ? now : _coolingSince[key.Group];
                if (now - since >= options.CoolingLongerThan)
                {
                    holding.Add(new AlertCondition(AlertKinds.KeyCooling, key.Group,
                        $"the key of group {key.Group} has been cooling down or its circuit open for {(now - since).TotalMinutes:0.#} min (limit {options.CoolingLongerThan.TotalMinutes:0.#} min)" + Because(key.Reason)));
                }
            }
            else
            {
                _coolingSince.Remove(key.Group);
            }
        }
        foreach (var (group, count) in facts.UpstreamRateLimits)
        {
            // 429s already counted at start (totals loaded from the store) are history, not news.
            if (!_rateLimited.TryGetValue(group, out var seen))
            {
                _rateLimited[group] = (count, _first ? DateTimeOffset.MinValue : now);
                seen = _rateLimited[group];
                if (_first || count == 0)
                {
                    continue;
                }
            }
            else if (count > seen.Count)
            {
                _rateLimited[group] = seen = (count, now);
            }
            if (seen.At != DateTimeOffset.MinValue && now - seen.At < options.UpstreamRateLimitQuiet)
            {
                holding.Add(new AlertCondition(AlertKinds.UpstreamRateLimited, group,
                    $"the upstream answered 429 to the key of group {group} ({count.ToString(CultureInfo.InvariantCulture)} so far): KeyPool's budget for it is set above the upstream's real limit"));
            }
        }
        _first = false;
        if (facts.DegradedReason is { } degraded)
        {
            holding.Add(new AlertCondition(AlertKinds.PoolDegraded, null, $"DEGRADED: shared state unavailable ({degraded}); each instance serves its share of every budget"));
        }
        if (facts.StoreStaleSince is { } stale)
        {
            holding.Add(new AlertCondition(AlertKinds.StoreUnreachable, null, $"the store has been unreachable since {stale:HH:mm:ss}Z; usage waits in memory"));
        }
        if (options.HeadroomBelow is { } floor && facts.Headroom is { } headroom && headroom < floor)
        {
            holding.Add(new AlertCondition(AlertKinds.HeadroomLow, null, $"measured headroom is {headroom:P0} of the pool's minute budget (alert below {floor:P0})"));
        }
        if (options.DailyCostAbove is { } ceiling && facts.CostToday is { } cost && cost > ceiling)
        {
            holding.Add(new AlertCondition(AlertKinds.DailyCost, null,
                $"today's upstream cost is {cost.ToString(UsdFormat, CultureInfo.InvariantCulture)} USD (alert above {ceiling.ToString(UsdFormat, CultureInfo.InvariantCulture)} USD)"));
        }
        return holding;
    }

    private static string Because(string? reason) => reason is { Length: > 0 } ? $" ({reason})" : "";
}
