using System.Collections.Frozen;
using System.Reflection;

namespace KeyPool.Dashboard;

/// <summary>The dashboard's files, embedded in the binary (see KeyPool.csproj) and read once.</summary>
internal sealed class DashboardAssets
{
    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["dashboard.css"] = "text/css; charset=utf-8",
        ["dashboard.js"] = "text/javascript; charset=utf-8",
        ["requests.js"] = "text/javascript; charset=utf-8",
        ["favicon.svg"] = "image/svg+xml",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private readonly FrozenDictionary<string, Asset> _assets;

    public DashboardAssets()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        _assets = ContentTypes.ToFrozenDictionary(p => p.Key, p => new Asset(Read(assembly, p.Key), p.Value), StringComparer.Ordinal);
    }

    /// <summary>The asset named <paramref name="name"/>, or null: only the listed files are served, never a path.</summary>
    public Asset? Find(string name) => _assets.GetValueOrDefault(name);

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream($"KeyPool.Dashboard.{name}")
            ?? throw new InvalidOperationException($"The dashboard asset {name} is not embedded in {assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    internal sealed record Asset(byte[] Content, string ContentType);
}
