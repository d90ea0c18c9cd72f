namespace KeyPool.Core.Routing;

/// <summary>
/// The models a key may use, from xAI's <c>acls</c> (<c>api-key:model:grok-4</c>, <c>api-key:model:grok-4*</c>,
/// <c>api-key:model:*</c>). Routing sends a model only to keys whose ACL allows it.
/// </summary>
public sealed class ModelAcl
{
    private const string Prefix = "api-key:model:";
    private readonly string[] _exact;
    private readonly string[] _prefixes;

    private ModelAcl(string[] exact, string[] prefixes) => (_exact, _prefixes) = (exact, prefixes);

    /// <summary>The ACL of <paramref name="acls"/>; null when it allows every model or names none (nothing to enforce).</summary>
    public static ModelAcl? From(IEnumerable<string> acls)
    {
        ArgumentNullException.ThrowIfNull(acls);
        var models = acls.Where(a => a.StartsWith(Prefix, StringComparison.Ordinal)).Select(a => a[Prefix.Length..]).ToArray();
        if (models.Length == 0 || models.Contains("*"))
        {
            return null;
        }
        return new ModelAcl(
            models.Where(m => !m.EndsWith('*')).ToArray(),
            models.Where(m => m.EndsWith('*')).Select(m => m[..^1]).ToArray());
    }

    /// <summary>Whether <paramref name="model"/> is allowed (requests of no model always are).</summary>
    public bool Allows(string model) =>
        model.Length == 0 || _exact.Contains(model, StringComparer.Ordinal) || _prefixes.Any(p => model.StartsWith(p, StringComparison.Ordinal));
}
