using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>
/// The long-lived state of every key in the pool, by the key itself (its secret): health, model ACL, models the
/// upstream lately refused, counters. It outlives the pool model: a reload builds a new <see cref="PoolSnapshot"/>
/// whose members point at the same entries, so nothing is handed from one snapshot to the next. A key keeps its
/// state while it stays in the pool (even under another group number); a key taken out loses it.
/// </summary>
public sealed class KeyRegistry
{
    private readonly KeyHealthOptions _health;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private Dictionary<string, KeyLiveState> _keys = new(StringComparer.Ordinal);

    /// <summary>Creates an empty registry whose health trackers follow <paramref name="health"/>.</summary>
    public KeyRegistry(KeyHealthOptions health, TimeProvider time)
    {
        _health = health ?? throw new ArgumentNullException(nameof(health));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>The state of <paramref name="key"/>, created on first sight.</summary>
    public KeyLiveState For(UpstreamKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_lock)
        {
            if (!_keys.TryGetValue(key.Secret, out var state))
            {
                state = new KeyLiveState(new KeyHealthTracker(_health, _time));
                _keys[key.Secret] = state;
            }
            return state;
        }
    }

    /// <summary>Forgets the keys not in <paramref name="ring"/> (they left the pool).</summary>
    public void Retain(KeyRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        lock (_lock)
        {
            var kept = new Dictionary<string, KeyLiveState>(StringComparer.Ordinal);
            foreach (var key in ring.Keys)
            {
                if (_keys.TryGetValue(key.Secret, out var state))
                {
                    kept[key.Secret] = state;
                }
            }
            _keys = kept;
        }
    }
}

/// <summary>The live state of one key: what the upstream's answers taught about it.</summary>
public sealed class KeyLiveState
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> _deniedUntil = new(); // model id → Unix second
    private volatile ModelAcl? _acl;
    private long _spillsIn;
    private long _rejections;

    internal KeyLiveState(KeyHealthTracker health) => Health = health;

    /// <summary>Revocation, cool-down and circuit state.</summary>
    public KeyHealthTracker Health { get; }

    /// <summary>Requests this key served for users of other groups.</summary>
    public long SpillsIn => Volatile.Read(ref _spillsIn);

    /// <summary>Requests of this key's group's users refused for lack of capacity anywhere.</summary>
    public long Rejections => Volatile.Read(ref _rejections);

    /// <summary>The models the upstream lets this key use (its <c>acls</c>); null when it allows all or did not say.</summary>
    public ModelAcl? Acl => _acl;

    /// <summary>Whether the key may serve <paramref name="modelName"/> (id <paramref name="modelId"/>) at <paramref name="second"/>.</summary>
    public bool Permits(int modelId, string modelName, long second) =>
        (_acl is not { } acl || acl.Allows(modelName))
        && (_deniedUntil.IsEmpty || !_deniedUntil.TryGetValue(modelId, out var until) || until <= second);

    /// <summary>The upstream answered 403 for this model: route it elsewhere until <paramref name="untilSecond"/>.</summary>
    internal void Deny(int modelId, long untilSecond) => _deniedUntil[modelId] = untilSecond;

    /// <summary>Sets the ACL the upstream reported (null: all models).</summary>
    internal void SetAcl(ModelAcl? acl) => _acl = acl;

    internal void CountSpillIn() => Interlocked.Increment(ref _spillsIn);

    internal void CountRejection() => Interlocked.Increment(ref _rejections);
}
