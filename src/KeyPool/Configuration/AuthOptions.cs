namespace KeyPool.Configuration;

/// <summary>
/// Who may call besides holders of client tokens (<c>KeyPool:Auth</c>): per-user gateway keys,
/// JWTs from the app's auth provider, and how failed admin attempts are slowed down. Every
/// method is off until configured.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "KeyPool:Auth";

    public GatewayKeysOptions GatewayKeys { get; set; } = new();

    public JwtOptions Jwt { get; set; } = new();

    public AdminThrottleOptions AdminThrottle { get; set; } = new();
}

/// <summary>Per-user gateway keys (<c>KeyPool:Auth:GatewayKeys</c>), issued by the admin API.</summary>
public sealed class GatewayKeysOptions
{
    /// <summary>Accept <c>kp-…</c> keys on <c>/v1/*</c> and serve the admin key endpoints. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>Keys held in memory after their first use. Default 100,000.</summary>
    public int CacheSize { get; set; } = 100_000;

    /// <summary>
    /// How long a cached key is trusted before the store is read again. Default 1 minute: the
    /// longest a key revoked by another instance keeps working here (one revoked here stops at once).
    /// </summary>
    public TimeSpan CacheTimeToLive { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>JWTs from the app's auth provider (<c>KeyPool:Auth:Jwt</c>); the <c>sub</c> claim is the end user.</summary>
public sealed class JwtOptions
{
    /// <summary>HS256 shared secret (Supabase: the project's JWT secret). At least 32 bytes. Set this or <see cref="JwksUrl"/>.</summary>
    public string Secret { get; set; } = "";

    /// <summary>URL of the provider's JSON Web Key Set, for RS256/ES256 tokens. https (http only to a loopback address).</summary>
    public string JwksUrl { get; set; } = "";

    /// <summary>Required <c>iss</c>; empty = not checked.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>Required <c>aud</c> (Supabase: <c>authenticated</c>); empty = not checked.</summary>
    public string Audience { get; set; } = "";

    /// <summary>Claim holding the caller's role: a name (<c>role</c>) or a dotted path into an object claim (<c>app_metadata.role</c>). Default <c>role</c>.</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>Role value that opens <c>/api/admin/*</c>; empty = no JWT is an admin.</summary>
    public string AdminRole { get; set; } = "";

    /// <summary>Tolerance on <c>exp</c> and <c>nbf</c> for clocks that differ. Default 30 s, at most 5 minutes.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the key set is fetched again. Default 1 hour; an unknown <c>kid</c> also triggers a fetch (at most every 30 s).</summary>
    public TimeSpan JwksRefreshInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>True when a secret or a key set is configured.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(Secret) || !string.IsNullOrWhiteSpace(JwksUrl);
}

/// <summary>Slowing down failed admin attempts (<c>KeyPool:Auth:AdminThrottle</c>), per client address.</summary>
public sealed class AdminThrottleOptions
{
    /// <summary>Failures allowed from one address before attempts are delayed. Default 5.</summary>
    public int FreeFailures { get; set; } = 5;

    /// <summary>An address's failures are forgotten this long after its last one. Default 15 minutes.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Longest wait imposed between attempts (the wait doubles from 1 s). Default 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Addresses remembered at most; the least recently failed is forgotten first. Default 10,000.</summary>
    public int MaxAddresses { get; set; } = 10_000;
}
