namespace KeyPool.Core.Models;

/// <summary>
/// The models the gateway knows: the upstream's list (<c>GET /v1/models</c>, read at start and on a schedule)
/// plus configured names, and aliases that map a name callers use to an upstream model. While the upstream's
/// list is unknown every name is allowed (the budget table bounds itself); once known, an unknown name is
/// answered 404 by the gateway without reaching the upstream.
/// </summary>
public sealed class ModelCatalog
{
    private readonly HashSet<string> _configured;
    private readonly Dictionary<string, string> _aliases;
    private volatile HashSet<string>? _upstream;

    /// <summary>Creates a catalog with <paramref name="configured"/> names always allowed and <paramref name="aliases"/> (alias → model).</summary>
    public ModelCatalog(IEnumerable<string> configured, IReadOnlyDictionary<string, string> aliases)
    {
        ArgumentNullException.ThrowIfNull(configured);
        ArgumentNullException.ThrowIfNull(aliases);
        _configured = new HashSet<string>(configured, StringComparer.Ordinal);
        _aliases = new Dictionary<string, string>(aliases, StringComparer.Ordinal);
    }

    /// <summary>Whether the upstream's list has been read.</summary>
    public bool IsKnown => _upstream is not null;

    /// <summary>How many models the upstream listed (0 while unknown).</summary>
    public int UpstreamCount => _upstream?.Count ?? 0;

    /// <summary>Replaces the upstream's list.</summary>
    public void Load(IEnumerable<string> upstreamModels)
    {
        ArgumentNullException.ThrowIfNull(upstreamModels);
        _upstream = new HashSet<string>(upstreamModels, StringComparer.Ordinal);
    }

    /// <summary>The upstream model an alias stands for, or null when <paramref name="model"/> is no alias.</summary>
    public string? AliasTarget(string? model) => model is not null && _aliases.TryGetValue(model, out var target) ? target : null;

    /// <summary>Whether requests for <paramref name="model"/> may go upstream.</summary>
    public bool Allows(string model) =>
        _upstream is not { } known || known.Contains(model) || _configured.Contains(model) || _aliases.ContainsKey(model);
}
