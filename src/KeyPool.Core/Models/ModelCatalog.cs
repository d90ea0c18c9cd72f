using System.Collections.Concurrent;

namespace KeyPool.Core.Models;

/// <summary>
/// The models the gateway knows: the upstream's list (<c>GET /v1/models</c>, read at start and on a schedule)
/// plus configured names, and aliases that map a name callers use to an upstream model. While the upstream's
/// list is unknown every name is allowed (the id table bounds itself); once known, an unknown name is
/// answered 404 by the gateway without reaching the upstream. It also owns the small integer id of each model
/// name that budgets are indexed by: ids are stable for the process, whatever the pool's keys become.
/// </summary>
public sealed class ModelCatalog
{
    /// <summary>Model names with an id (and so a budget) of their own at most; further names share one (stricter, never looser).</summary>
    public const int MaxModels = 512;

    /// <summary>The name behind the id of every model name past <see cref="MaxModels"/>.</summary>
    public const string OverflowModel = "(other models)";

    private readonly HashSet<string> _configured;
    private readonly Dictionary<string, string> _aliases;
    private readonly ConcurrentDictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Lock _idsLock = new();
    private volatile HashSet<string>? _upstream;
    private string[] _names = []; // by id; replaced whole under _idsLock

    /// <summary>Creates a catalog with <paramref name="configured"/> names always allowed and <paramref name="aliases"/> (alias → model).</summary>
    public ModelCatalog(IEnumerable<string> configured, IReadOnlyDictionary<string, string> aliases)
    {
        ArgumentNullException.ThrowIfNull(configured);
        ArgumentNullException.ThrowIfNull(aliases);
        _configured = new HashSet<string>(configured, StringComparer.Ordinal);
        _aliases = new Dictionary<string, string>(aliases, StringComparer.Ordinal);
    }

    /// <summary>A catalog with nothing configured: every name allowed until the upstream's list is loaded.</summary>
    public ModelCatalog()
        : this([], new Dictionary<string, string>())
    {
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

    /// <summary>
    /// The id of a model name ("" for requests of no model). Names come from callers, so the table is bounded:
    /// past <see cref="MaxModels"/> names, new ones share the id of <see cref="OverflowModel"/>.
    /// </summary>
    public int Id(string? model)
    {
        var name = model ?? "";
        if (_ids.TryGetValue(name, out var id))
        {
            return id;
        }
        lock (_idsLock)
        {
            return _ids.Count >= MaxModels && name != OverflowModel && !_ids.ContainsKey(name) ? IdLocked(OverflowModel) : IdLocked(name);
        }
    }

    /// <summary>The model name of <paramref name="id"/> ("" for requests of no model).</summary>
    public string Name(int id)
    {
        var names = Volatile.Read(ref _names);
        return (uint)id < (uint)names.Length ? names[id] : "";
    }

    private int IdLocked(string name)
    {
        if (_ids.TryGetValue(name, out var id))
        {
            return id;
        }
        id = _ids.Count;
        Volatile.Write(ref _names, [.. _names, name]);
        _ids[name] = id;
        return id;
    }
}
