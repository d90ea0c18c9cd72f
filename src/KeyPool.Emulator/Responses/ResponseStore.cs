using System.Collections.Concurrent;

namespace KeyPool.Emulator.Responses;

/// <summary>
/// Stored responses, as xAI keeps them: 30 days, visible to the creating team's keys only. A response keeps
/// its JSON (for GET) and its conversation so far (for <c>previous_response_id</c>).
/// </summary>
internal sealed class ResponseStore(TimeProvider timeProvider)
{
    public static readonly TimeSpan Retention = TimeSpan.FromDays(30);

    // Bounded so that a long benchmark that stores every answer cannot grow memory without end;
    // when full of live entries, forgetting them all is what an expired conversation looks like.
    private const int MaxStored = 100_000;

    private readonly ConcurrentDictionary<string, StoredResponse> _stored = new(StringComparer.Ordinal);

    public void Add(string team, string id, byte[] json, IReadOnlyList<(string Role, string Text)> conversation)
    {
        var now = timeProvider.GetUtcNow();
        if (_stored.Count >= MaxStored)
        {
            foreach (var (key, entry) in _stored)
            {
                if (entry.ExpiresAt <= now)
                {
                    _stored.TryRemove(key, out _);
                }
            }
            if (_stored.Count >= MaxStored)
            {
                _stored.Clear();
            }
        }
        _stored[id] = new StoredResponse(team, json, conversation, now + Retention);
    }

    /// <summary>The stored response when <paramref name="team"/> may see it; null when unknown, expired, deleted or another team's.</summary>
    public StoredResponse? Find(string id, string team)
    {
        if (!_stored.TryGetValue(id, out var entry) || entry.Team != team)
        {
            return null;
        }
        if (entry.ExpiresAt <= timeProvider.GetUtcNow())
        {
            _stored.TryRemove(id, out _);
            return null;
        }
        return entry;
    }

    public bool Delete(string id, string team) =>
        Find(id, team) is { } entry && _stored.TryRemove(new KeyValuePair<string, StoredResponse>(id, entry));
}

/// <summary>A stored answer: its team, its JSON as a GET returns it, and every message up to and including its reply.</summary>
internal sealed record StoredResponse(string Team, byte[] Json, IReadOnlyList<(string Role, string Text)> Conversation, DateTimeOffset ExpiresAt);
