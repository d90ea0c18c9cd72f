namespace KeyPool.Core.KeyHealth;

/// <summary>How failing keys are treated (<c>KeyPool:Health</c>).</summary>
public sealed class KeyHealthOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Health";

    /// <summary>Consecutive 5xx/timeouts/connection failures that open a key's circuit. Default 5.</summary>
    public int BreakerFailures { get; set; } = 5;

    /// <summary>How long an open circuit stays open before one probe request is let through. Default 30 s.</summary>
    public TimeSpan BreakerOpenFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First cool-down after a 429 that says nothing of when to come back; doubles each time. Default 1 s.</summary>
    public TimeSpan CooldownBase { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest cool-down. Default 60 s.</summary>
    public TimeSpan CooldownMax { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a model the upstream refused a key with 403 goes to other keys. Default 10 minutes.</summary>
    public TimeSpan ModelDeniedFor { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often a revoked key is asked again whether it is back (<c>GET /v1/api-key</c>). Default 60 s.</summary>
    public TimeSpan RevokedProbeInterval { get; set; } = TimeSpan.FromSeconds(60);
}
