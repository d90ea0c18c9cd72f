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
    public Dictionary<int, Core.Keys.GroupSettings> Groups { get; set; } = [];

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

    /// <summary>
    /// The endpoints every caller may reach, as <c>METHOD path</c> below <c>/v1</c> (<c>*</c> is one path segment).
    /// Unset: <see cref="DefaultAllowedPaths"/>. Anything else gets 404 without touching the upstream.
    /// </summary>
    public List<string>? AllowedPaths { get; set; }

    /// <summary>Endpoints only client tokens (your backend) may reach besides <see cref="AllowedPaths"/>, e.g. <c>GET responses/*</c>. Default none.</summary>
    public List<string> ClientTokenAllowedPaths { get; set; } = [];

    /// <summary>Allow a plain-http <see cref="BaseUrl"/> to a host that is not loopback (keys would cross the network in clear). Default false.</summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>Largest JSON answer read whole (for usage and retries); a larger one is streamed through uncounted. Default 8 MB.</summary>
    public long MaxBufferedAnswerBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Model generation and listing, and the stored responses and deferred completions KeyPool checks the owner of (a
    /// caller reaches only its own: docs/security.md); no endpoint that lists objects shared by every user of a key
    /// (files, batches) and no key self-description (<c>api-key</c>).
    /// </summary>
    public static IReadOnlyList<string> DefaultAllowedPaths { get; } =
    [
        "POST chat/completions", "POST completions", "POST responses", "POST embeddings",
        "GET models", "GET models/*", "POST tokenize-text", "POST images/generations", "POST audio/speech",
        "GET responses/*", "DELETE responses/*", "GET chat/deferred-completion/*",
    ];
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

    /// <summary>
    /// Users of limited tiers whose counts are held in memory at most. Default 200,000 (≈ 40 MB). Users idle for two
    /// minutes are dropped first (their day total is read again from the store when they return); at this cap the
    /// least recently active are dropped too and start afresh, so size it above the users active in a few minutes.
    /// </summary>
    public int LimitCounters { get; set; } = 200_000;
}

/// <summary>One tier (<c>KeyPool:Tiers:&lt;tier&gt;</c>).</summary>
public sealed class TierOptions
{
    /// <summary>When set, every request of this tier uses this model, whatever the client asked.</summary>
    public string? Model { get; set; }

    /// <summary>Requests a minute per user of this tier (a minute's worth may come at once; it refills continuously). Unset: no limit.</summary>
    public long? RequestsPerMinute { get; set; }

    /// <summary>Tokens a minute per user (estimated at admission, corrected to the real usage). Unset: no limit.</summary>
    public long? TokensPerMinute { get; set; }

    /// <summary>Tokens per user per UTC day (survives a restart through the stored usage). Unset: no limit.</summary>
    public long? TokensPerDay { get; set; }

    /// <summary>US dollars per user per UTC day (the upstream's stated cost; reserved from an estimate, settled with the real cost). Unset: no limit.</summary>
    public decimal? UsdPerDay { get; set; }

    /// <summary>US dollars per user per UTC calendar month, counted like <see cref="UsdPerDay"/>. Unset: no limit.</summary>
    public decimal? UsdPerMonth { get; set; }
}

/// <summary>Request limits (<c>KeyPool:Limits</c>).</summary>
public sealed class LimitsOptions
{
    public const string Section = "KeyPool:Limits";

    /// <summary>Largest request body accepted; larger gets 413. Default 10 MB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Requests on <c>/v1</c> handled at once (waiting for capacity included); more get 503 at once. Default 4,096.</summary>
    public int MaxConcurrentRequests { get; set; } = 4_096;

    /// <summary>
    /// Requests of one caller on <c>/v1</c> at once: the user a gateway key or JWT names, or for a client token the user it
    /// names (<c>X-KeyPool-User</c>, else the body's <c>user</c>, counted once the body is read); more get 429
    /// <c>too_many_concurrent_requests</c> at once. 0 (default): a sixteenth of <see cref="MaxConcurrentRequests"/>, at least 4.
    /// </summary>
    public int MaxConcurrentRequestsPerUser { get; set; }

    /// <summary>The per-caller limit in force (<see cref="MaxConcurrentRequestsPerUser"/> or its default).</summary>
    public int PerUserConcurrency => MaxConcurrentRequestsPerUser > 0 ? MaxConcurrentRequestsPerUser : Math.Max(4, MaxConcurrentRequests / 16);

    /// <summary>
    /// Bytes of request bodies held in memory at once, over all requests (a buffer counts as it grows); a request that
    /// would pass it gets 503 <c>gateway_overloaded</c> at once, with <c>Connection: close</c>. Default 256 MB.
    /// </summary>
    public long MaxBufferedBodyBytes { get; set; } = 256 * 1024 * 1024;

    /// <summary>
    /// Most items in a body's <c>messages</c> or <c>input</c> array; more get 400 <c>too_many_items</c> without reaching
    /// the upstream. Default 100,000 (far above any context window's worth of turns).
    /// </summary>
    public int MaxMessages { get; set; } = 100_000;

    /// <summary>
    /// How long a client may take to send a request's headers; slower ones get Kestrel's 408 and are closed (slowloris).
    /// Default 10 s (Kestrel's own default is 30 s).
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Slowest request body accepted, in bytes per second, after a grace period of <see cref="MinRequestBodyGracePeriod"/>;
    /// slower uploads get 408 <c>request_timeout</c>. Default 240 B/s (Kestrel's default).
    /// </summary>
    public double MinRequestBodyBytesPerSecond { get; set; } = 240;

    /// <summary>The grace period of <see cref="MinRequestBodyBytesPerSecond"/>. Default 5 s (Kestrel's default); more than 1 s.</summary>
    public TimeSpan MinRequestBodyGracePeriod { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Usage accounting (<c>KeyPool:Usage</c>).</summary>
public sealed class UsageOptions
{
    public const string Section = "KeyPool:Usage";

    /// <summary>How often usage is written to the store. Default 1 s.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most (user, day) rows of usage per user held in memory while the store cannot take them (about 200 bytes
    /// each). Past it, new users' usage is not counted until the store is back; users already held still are.
    /// Default 2,000,000 (≈ 400 MB).
    /// </summary>
    public int MaxPendingUserRows { get; set; } = Core.Usage.UserUsageRecorder.DefaultMaxPendingRows;
}

/// <summary>A reverse proxy in front of KeyPool (<c>KeyPool:ForwardedHeaders</c>).</summary>
public sealed class ForwardedHeadersSettings
{
    public const string Section = "KeyPool:ForwardedHeaders";

    /// <summary>
    /// Addresses of the proxies whose <c>X-Forwarded-For</c> is believed: then the failed-attempt throttle counts the
    /// forwarded client address. Empty (default): the header is ignored and the connection's address counts.
    /// </summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR, e.g. <c>10.0.0.0/16</c>) whose proxies are believed too: for balancers whose address changes.</summary>
    public List<string> KnownNetworks { get; set; } = [];
}

/// <summary>Stopping (<c>KeyPool:Shutdown</c>).</summary>
public sealed class ShutdownOptions
{
    public const string Section = "KeyPool:Shutdown";

    /// <summary>
    /// How long a stop (SIGTERM) lets requests in flight finish — streams included — before they are cut; new
    /// requests meanwhile get 503. Usage is written after the drain. Default 30 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
