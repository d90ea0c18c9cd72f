namespace KeyPool.Core.Keys;

/// <summary>
/// An immutable set of upstream keys indexed by group. The gateway swaps whole rings
/// when keys change, so a request sees one consistent set.
/// </summary>
public sealed class KeyRing
{
    private readonly UpstreamKey?[] _byGroup;

    /// <summary>Creates a ring from keys with distinct groups.</summary>
    public KeyRing(IEnumerable<UpstreamKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = keys.OrderBy(k => k.Group).ToArray();
        if (list.Length > 0 && list[0].Group < 1)
        {
            throw new ArgumentException("Key groups start at 1.", nameof(keys));
        }
        _byGroup = new UpstreamKey?[list.Length == 0 ? 1 : list[^1].Group + 1];
        foreach (var key in list)
        {
            if (_byGroup[key.Group] is not null)
            {
                throw new ArgumentException($"Key group {key.Group} is given twice.", nameof(keys));
            }
            _byGroup[key.Group] = key;
        }
        Keys = list;
        Groups = list.Select(k => k.Group).ToArray();
    }

    /// <summary>An empty ring.</summary>
    public static KeyRing Empty { get; } = new([]);

    /// <summary>The keys in group order.</summary>
    public IReadOnlyList<UpstreamKey> Keys { get; }

    /// <summary>The group numbers that have a key, ascending.</summary>
    public IReadOnlyList<int> Groups { get; }

    /// <summary>How many keys the ring holds.</summary>
    public int Count => Keys.Count;

    /// <summary>The highest group number, 0 when empty.</summary>
    public int MaxGroup => _byGroup.Length - 1;

    /// <summary>The key of <paramref name="group"/>, or null when that group has none.</summary>
    public UpstreamKey? Find(int group) => (uint)group < (uint)_byGroup.Length ? _byGroup[group] : null;
}
