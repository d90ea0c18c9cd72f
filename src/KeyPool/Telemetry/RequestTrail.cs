using System.Diagnostics;
using KeyPool.Proxy;

namespace KeyPool.Telemetry;

/// <summary>
/// What one request's attempts leave behind for its log line and its spans: the key group that served it, queue
/// and upstream times, the upstream's usage. Filled by <see cref="RequestObserver"/>; plain fields, one per request.
/// </summary>
internal sealed class RequestTrail
{
    internal long AdmitStarted;
    internal Activity? AdmissionSpan;
    internal Activity? AttemptSpan;

    /// <summary>Time spent waiting for a key, over all attempts.</summary>
    public TimeSpan Queued { get; internal set; }

    /// <summary>The key group of the last attempt, or null when no key was asked.</summary>
    public int? KeyGroup { get; internal set; }

    /// <summary>The last attempt's team (the upstream's id: fingerprint it before showing it).</summary>
    public string? Team { get; internal set; }

    /// <summary>Some attempt went to a group other than the user's own.</summary>
    public bool Spilled { get; internal set; }

    /// <summary>Why admission refused, when it did (<c>no_key_with_room</c>, <c>client_left</c>).</summary>
    public string? Refusal { get; internal set; }

    /// <summary>The last attempt's time upstream, and to its response headers.</summary>
    public TimeSpan? Upstream { get; internal set; }

    public TimeSpan? FirstByte { get; internal set; }

    /// <summary>The upstream's usage of the last attempt that reported one.</summary>
    public TokenCounts? Usage { get; internal set; }
}
