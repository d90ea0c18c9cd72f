namespace KeyPool.Core.Keys;

/// <summary>What changed between two key rings, in words fit for a log line (groups only, never keys).</summary>
public sealed record KeyRingDiff(IReadOnlyList<int> Added, IReadOnlyList<int> Removed, IReadOnlyList<int> Replaced)
{
    /// <summary>True when nothing changed.</summary>
    public bool IsEmpty => Added.Count == 0 && Removed.Count == 0 && Replaced.Count == 0;

    /// <summary>Compares <paramref name="before"/> with <paramref name="after"/>.</summary>
    public static KeyRingDiff Between(KeyRing before, KeyRing after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return new(
            after.Groups.Where(g => before.Find(g) is null).ToArray(),
            before.Groups.Where(g => after.Find(g) is null).ToArray(),
            after.Keys.Where(k => before.Find(k.Group) is { } old && old.Secret != k.Secret).Select(k => k.Group).ToArray());
    }

    /// <summary>E.g. "added groups 32, 33; removed group 5; replaced the key of group 7".</summary>
    public override string ToString()
    {
        if (IsEmpty)
        {
            return "no change";
        }
        var parts = new List<string>();
        if (Added.Count > 0)
        {
            parts.Add($"added {Groups(Added)}");
        }
        if (Removed.Count > 0)
        {
            parts.Add($"removed {Groups(Removed)}");
        }
        if (Replaced.Count > 0)
        {
            parts.Add($"replaced the key of {Groups(Replaced)}");
        }
        return string.Join("; ", parts);
    }

    private static string Groups(IReadOnlyList<int> groups) => (groups.Count == 1 ? "group " : "groups ") + string.Join(", ", groups);
}
