using System.Globalization;

namespace KeyPool.Core.Keys;

/// <summary>
/// Finds upstream keys among environment variables: <c>PREFIX</c> is group 1,
/// <c>PREFIX_n</c> is group n. Gaps stay gaps (a missing suffix is a missing group).
/// </summary>
public static class KeyDiscovery
{
    /// <summary>The prefix the original system used.</summary>
    public const string DefaultPrefix = "XAI_API_KEY";

    /// <summary>Reads the keys from <paramref name="variables"/> (name → value).</summary>
    public static KeyDiscoveryResult Discover(IEnumerable<KeyValuePair<string, string?>> variables, string prefix = DefaultPrefix)
    {
        ArgumentNullException.ThrowIfNull(variables);
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);

        var keys = new SortedDictionary<int, UpstreamKey>();
        var warnings = new List<string>();
        foreach (var (name, value) in variables)
        {
            if (ParseGroup(name, prefix) is not { } group)
            {
                continue;
            }
            var secret = value?.Trim();
            if (string.IsNullOrEmpty(secret))
            {
                continue; // empty counts as missing
            }
            if (group == 1 && name.Length != prefix.Length)
            {
                // PREFIX_1 would collide with PREFIX, which the original system made group 1.
                warnings.Add($"{name} is ignored: group 1 is {prefix}.");
                continue;
            }
            keys[group] = new UpstreamKey(group, secret);
        }

        // Sort the whole set once so a key under several names is reported in group order.
        var duplicates = keys.Values
            .GroupBy(k => k.Secret, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => g.Select(k => k.Group).ToArray())
            .ToArray();
        foreach (var groups in duplicates)
        {
            warnings.Add($"The same key is set for groups {string.Join(", ", groups)}: they share one upstream budget.");
        }

        return new KeyDiscoveryResult(new KeyRing(keys.Values), duplicates, warnings);
    }

    internal static int? ParseGroup(string name, string prefix)
    {
        if (!name.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }
        if (name.Length == prefix.Length)
        {
            return 1;
        }
        var suffix = name.AsSpan(prefix.Length);
        // "_n" with a canonical positive number: "_07" or "_+7" would be a second name for group 7.
        if (suffix.Length < 2 || suffix[0] != '_' || suffix[1] == '0')
        {
            return null;
        }
        var digits = suffix[1..];
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return null;
            }
        }
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var group) ? group : null;
    }
}

/// <summary>What <see cref="KeyDiscovery"/> found.</summary>
/// <param name="Keys">The keys by group.</param>
/// <param name="DuplicateGroups">Sets of groups that hold the same key.</param>
/// <param name="Warnings">Problems worth logging; never contain key material.</param>
public sealed record KeyDiscoveryResult(KeyRing Keys, IReadOnlyList<int[]> DuplicateGroups, IReadOnlyList<string> Warnings);
