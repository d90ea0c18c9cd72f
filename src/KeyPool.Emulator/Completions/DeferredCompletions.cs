using System.Collections.Concurrent;

namespace KeyPool.Emulator.Completions;

/// <summary>
/// Deferred chat completions waiting for their poll. Like xAI: visible to the creating team's keys only,
/// handed out once, forgotten after 24 hours.
/// </summary>
internal sealed class DeferredCompletions(EmulatorOptions options, TimeProvider timeProvider)
{
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    // Bounded so that a long benchmark of deferred requests nobody polls cannot grow memory without end.
    private const int MaxPending = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _pending = new(StringComparer.Ordinal);

    public string Add(string team, string model, ChatReply reply)
    {
        var now = timeProvider.GetUtcNow();
        if (_pending.Count >= MaxPending)
        {
            foreach (var (id, entry) in _pending)
            {
                if (entry.ExpiresAt <= now)
                {
                    _pending.TryRemove(id, out _);
                }
            }
        }
        var requestId = Guid.NewGuid().ToString();
        _pending[requestId] = new Entry(team, model, reply, now + options.DeferredDelay, now + Retention);
        return requestId;
    }

    /// <summary>The request's model when <paramref name="team"/> may poll it; null when unknown, expired or another team's.</summary>
    public string? ModelOf(string requestId, string team)
    {
        if (!_pending.TryGetValue(requestId, out var entry) || entry.Team != team)
        {
            return null;
        }
        if (entry.ExpiresAt <= timeProvider.GetUtcNow())
        {
            _pending.TryRemove(requestId, out _);
            return null;
        }
        return entry.Model;
    }

    /// <summary>The finished completion, removed so that it is handed out once; null while still pending.</summary>
    public ChatReply? TakeIfReady(string requestId)
    {
        if (!_pending.TryGetValue(requestId, out var entry) || entry.ReadyAt > timeProvider.GetUtcNow())
        {
            return null;
        }
        return _pending.TryRemove(new KeyValuePair<string, Entry>(requestId, entry)) ? entry.Reply : null;
    }

    private sealed record Entry(string Team, string Model, ChatReply Reply, DateTimeOffset ReadyAt, DateTimeOffset ExpiresAt);
}
