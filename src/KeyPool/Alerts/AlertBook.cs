namespace KeyPool.Alerts;

/// <summary>
/// Folding and resolving: a condition that begins is announced unless the same condition was announced less than
/// <c>RepeatInterval</c> ago (then it is folded, and announced once the interval has passed if it still holds); a
/// condition that ends after it was announced gets a "resolved". One book per instance.
/// </summary>
internal sealed class AlertBook(TimeSpan repeatInterval)
{
    private readonly Dictionary<string, Entry> _entries = [];

    public List<AlertMessage> Update(IReadOnlyList<AlertCondition> holding, DateTimeOffset now, string instance)
    {
        var messages = new List<AlertMessage>();
        var current = new HashSet<string>();
        foreach (var condition in holding)
        {
            var id = condition.Id;
            if (!current.Add(id))
            {
                continue;
            }
            if (!_entries.TryGetValue(id, out var entry))
            {
                _entries[id] = entry = new Entry();
            }
            if (entry.Since is null)
            {
                entry.Since = now;
                entry.Announced = false;
            }
            if (!entry.Announced && (entry.LastAnnounced is not { } last || now - last >= repeatInterval))
            {
                entry.Announced = true;
                entry.LastAnnounced = now;
                messages.Add(new AlertMessage(AlertMessage.Firing, condition.Kind, condition.KeyGroup, condition.Reason, now, instance, now));
            }
            entry.Condition = condition;
        }
        foreach (var (id, entry) in _entries)
        {
            if (entry.Since is { } since && !current.Contains(id))
            {
                if (entry.Announced)
                {
                    var ended = entry.Condition;
                    messages.Add(new AlertMessage(AlertMessage.Resolved, ended.Kind, ended.KeyGroup, Resolution(ended), now, instance, since));
                }
                entry.Since = null;
                entry.Announced = false;
            }
        }
        return messages;
    }

    private static string Resolution(AlertCondition ended) => ended.Kind switch
    {
        AlertKinds.KeyRevoked => $"the key of group {ended.KeyGroup} serves again",
        AlertKinds.KeyCooling => $"the key of group {ended.KeyGroup} is no longer cooling down",
        AlertKinds.UpstreamRateLimited => $"no upstream 429 for the key of group {ended.KeyGroup} lately",
        AlertKinds.PoolDegraded => "shared state is back",
        AlertKinds.StoreUnreachable => "the store answers again",
        AlertKinds.HeadroomLow => "measured headroom is back above the threshold",
        _ => "the condition no longer holds",
    };

    private sealed class Entry
    {
        public DateTimeOffset? Since;
        public bool Announced;
        public DateTimeOffset? LastAnnounced;
        public AlertCondition Condition;
    }
}
