using KeyPool.Configuration;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;

namespace KeyPool.Keys;

/// <summary>All keys: the environment (<c>XAI_API_KEY</c>, <c>XAI_API_KEY_n</c>) plus the keys file, with per-group settings.</summary>
/// <param name="Ring">The keys.</param>
/// <param name="Groups">Per-group team and budgets: configuration, then the file's entries.</param>
/// <param name="Warnings">Worth logging; never key material.</param>
/// <param name="Problems">Reasons the set must not be used (an unreadable or invalid keys file).</param>
internal sealed record KeySet(KeyRing Ring, IReadOnlyDictionary<int, GroupSettings> Groups, IReadOnlyList<string> Warnings, IReadOnlyList<string> Problems)
{
    public static KeySet Load(IConfiguration configuration)
    {
        var options = configuration.GetSection(KeysOptions.Section).Get<KeysOptions>() ?? new KeysOptions();
        var prefix = string.IsNullOrWhiteSpace(options.EnvPrefix) ? KeyDiscovery.DefaultPrefix : options.EnvPrefix;
        var fromEnvironment = Discover(configuration, prefix);
        var warnings = fromEnvironment.Warnings.ToList();
        var groups = new Dictionary<int, GroupSettings>(options.Groups);
        var keys = fromEnvironment.Keys.Keys.ToDictionary(k => k.Group);
        var problems = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.File))
        {
            var name = Path.GetFileName(options.File);
            byte[]? bytes = null;
            try
            {
                bytes = File.ReadAllBytes(options.File);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                problems.Add($"The keys file {name} cannot be read: {exception.Message}");
            }
            if (bytes is not null)
            {
                var file = KeyFile.Parse(bytes, name);
                problems.AddRange(file.Problems);
                foreach (var key in file.Keys)
                {
                    if (keys.TryGetValue(key.Group, out var existing) && existing.Secret != key.Secret)
                    {
                        warnings.Add($"Group {key.Group} is set both in the environment and in {name}: the file wins.");
                    }
                    keys[key.Group] = key;
                }
                foreach (var (group, settings) in file.Groups)
                {
                    groups[group] = settings;
                }
            }
        }
        var ring = new KeyRing(keys.Values);
        warnings.AddRange(ring.Keys.GroupBy(k => k.Secret, StringComparer.Ordinal).Where(g => g.Count() > 1)
            .Select(g => $"The same key is set for groups {string.Join(", ", g.Select(k => k.Group))}: they share one upstream budget.")
            .Except(fromEnvironment.Warnings));
        return new KeySet(ring, groups, warnings, problems);
    }

    /// <summary>Reads keys from configuration, which includes the environment (XAI_API_KEY, XAI_API_KEY_2, …).</summary>
    public static KeyDiscoveryResult Discover(IConfiguration configuration, string prefix) =>
        KeyDiscovery.Discover(
            configuration.GetChildren().Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)),
            prefix);
}
