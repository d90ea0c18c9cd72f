using Microsoft.Extensions.Logging;

namespace KeyPool.Emulator;

/// <summary>
/// How the emulated upstream behaves. <see cref="Keys"/>, <see cref="Teams"/> and <see cref="Models"/>
/// are read once at start; the numbers are read on every request, so a test may change them live.
/// </summary>
public sealed class EmulatorOptions
{
    /// <summary>The API keys the emulator accepts.</summary>
    public IList<string> Keys { get; } = new List<string>();

    /// <summary>Key → team id. A key not listed is its own team, <c>team-&lt;n&gt;</c> with n its 1-based position in <see cref="Keys"/>.</summary>
    public IDictionary<string, string> Teams { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Model ids listed by <c>GET /v1/models</c>. Any model is accepted unless <see cref="RejectUnknownModels"/>.</summary>
    public IList<string> Models { get; } = new List<string>(DefaultModels);

    /// <summary>
    /// Models whose answers carry no <c>cost_in_usd_ticks</c>, like a provider that does not say what a request cost
    /// (the gateway then estimates it from its price table). Default none.
    /// </summary>
    public ISet<string> ModelsWithoutCost { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>When true, a model not in <see cref="Models"/> is answered with xAI's 404. Default false.</summary>
    public bool RejectUnknownModels { get; set; }

    /// <summary>Requests per minute per (team, model), sliding 60 s window. Default 480.</summary>
    public int RequestsPerMinute { get; set; } = 480;

    /// <summary>A finer window besides the minute: at most this many requests per (team, model) in any second; 0 (default) = none.</summary>
    public int RequestsPerSecond { get; set; }

    /// <summary>Tokens per minute per (team, model); a reply counts its total_tokens. Default 2,000,000.</summary>
    public long TokensPerMinute { get; set; } = 2_000_000;

    /// <summary>Content chunks per streamed reply (at least 1). Default 8.</summary>
    public int StreamChunks { get; set; } = 8;

    /// <summary>Delay before answering an inference request. Default zero.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Completion tokens when the request sets no max_tokens, and the cap when it does. Default 16.</summary>
    public int CompletionTokens { get; set; } = 16;

    /// <summary>How long a deferred chat completion stays pending (polls get 202) before its one 200. Default zero.</summary>
    public TimeSpan DeferredDelay { get; set; }

    /// <summary>Also send OpenAI's x-ratelimit-reset-requests / -tokens ("1s", "6m0s"); xAI sends none. Default false.</summary>
    public bool RateLimitResetHeaders { get; set; }

    /// <summary>Adds logging providers (none by default, so tests stay quiet); the minimum level starts at Warning.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }

    /// <summary>The models listed when none are configured.</summary>
    public static IReadOnlyList<string> DefaultModels { get; } =
        ["grok-4.3", "grok-4-fast-reasoning", "grok-4-fast-non-reasoning", "grok-3-mini", "grok-code-fast-1"];
}
