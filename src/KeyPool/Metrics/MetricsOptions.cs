namespace KeyPool.Metrics;

/// <summary>The Prometheus endpoint (<c>KeyPool:Metrics</c>).</summary>
public sealed class MetricsOptions
{
    public const string Section = "KeyPool:Metrics";

    /// <summary>
    /// Require <c>Authorization: Bearer &lt;admin token&gt;</c> on <c>/metrics</c>. Default false: metrics hold
    /// counts and group numbers only, never a key, and scrapers usually sit on a private network.
    /// </summary>
    public bool RequireAdminToken { get; set; }
}
