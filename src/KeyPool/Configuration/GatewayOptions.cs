namespace KeyPool.Configuration;

/// <summary>Who may call (<c>KeyPool</c> section): the admin token and the client tokens.</summary>
public sealed class GatewayOptions
{
    public const string Section = "KeyPool";

    /// <summary>Bearer token for <c>/api/admin/*</c>. Empty: admin endpoints answer 401 to everyone.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>Bearer tokens accepted on <c>/v1/*</c>. At least one, or another way to call (<see cref="Auth"/>), is required to serve.</summary>
    public List<string> ClientTokens { get; set; } = [];

    /// <summary>Gateway keys, JWTs and the admin throttle (<c>KeyPool:Auth</c>).</summary>
    public AuthOptions Auth { get; set; } = new();
}

/// <summary>Where keys come from (<c>KeyPool:Keys</c>).</summary>
public sealed class KeysOptions
{
    public const string Section = "KeyPool:Keys";

    /// <summary>Environment variable prefix: PREFIX is group 1, PREFIX_n group n. Default <c>XAI_API_KEY</c>.</summary>
    public string EnvPrefix { get; set; } = Core.Keys.KeyDiscovery.DefaultPrefix;

    /// <summary>A JSON keys file read in addition to the environment; watched for changes. Empty: none.</summary>
    public string? File { get; set; }

    /// <summary>Per-group team and budget overrides, by group number.</summary>
    public Dictionary<int, Core.Routing.GroupSettings> Groups { get; set; } = [];

    /// <summary>Ask the upstream at start for each key's team and state (<c>GET /v1/api-key</c>). Default true.</summary>
    public bool CheckOnStart { get; set; } = true;

    /// <summary>How long the start-up check may take in all. Default 5 s; keys not answered by then keep their own team.</summary>
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>The upstream provider (<c>KeyPool:Upstream</c>).</summary>
public sealed class UpstreamOptions
{
    public const string Section = "KeyPool:Upstream";

    /// <summary>OpenAI-compatible base URL including <c>/v1</c>. Default xAI.</summary>
    public Uri BaseUrl { get; set; } = new("https://api.x.ai/v1");

    /// <summary>Whole-request timeout. Default 15 minutes: reasoning can be silent for minutes (xAI advises ≥ 900 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Time to open a connection. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>End users (<c>KeyPool:Users</c>).</summary>
public sealed class UsersOptions
{
    public const string Section = "KeyPool:Users";

    /// <summary>Register a user unknown at their first chat request. Default true; false answers 403.</summary>
    public bool AutoRegister { get; set; } = true;

    /// <summary>Tier of users registered without one. Default "free".</summary>
    public string DefaultTier { get; set; } = "free";

    /// <summary>Users held in the in-memory user→group cache. Default 500,000 (≈ 50 MB at most); the most recent half is always kept.</summary>
    public int CacheSize { get; set; } = 500_000;
}

/// <summary>One tier (<c>KeyPool:Tiers:&lt;tier&gt;</c>).</summary>
public sealed class TierOptions
{
    /// <summary>When set, every request of this tier uses this model, whatever the client asked.</summary>
    public string? Model { get; set; }
}

/// <summary>Request limits (<c>KeyPool:Limits</c>).</summary>
public sealed class LimitsOptions
{
    public const string Section = "KeyPool:Limits";

    /// <summary>Largest request body accepted; larger gets 413. Default 10 MB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 10 * 1024 * 1024;
}

/// <summary>Usage accounting (<c>KeyPool:Usage</c>).</summary>
public sealed class UsageOptions
{
    public const string Section = "KeyPool:Usage";

    /// <summary>How often usage is written to the store. Default 1 s.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);
}
