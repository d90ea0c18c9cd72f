using KeyPool.Auth;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Requests;
using KeyPool.Core.Routing;
using KeyPool.Core.Users;
using KeyPool.StoredObjects;

namespace KeyPool.Proxy;

/// <summary>
/// One request on its way through the stages (gate, read, identify, plan, limit, attempts): each stage reads the facts
/// the earlier ones set and adds its own. One object per request, carried to the forwarder and the relays; what a
/// request log, a trace or a usage record needs about the request is here when the pipeline ends.
/// </summary>
internal sealed class ProxyExchange(HttpContext context, long started)
{
    /// <summary>The client's exchange.</summary>
    public HttpContext Context { get; } = context;

    /// <summary>When the request reached the gateway (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long Started { get; } = started;

    // gate
    /// <summary>Who is calling (set by the gate).</summary>
    public Caller? Caller { get; set; }

    /// <summary>The caller's slot (<see cref="CallerSlots"/>), while it holds one.</summary>
    internal int? CallerSlot { get; set; }

    /// <summary>The validated path below <c>/v1</c>, starting with '/' (set by the gate).</summary>
    public string Path { get; set; } = "";

    /// <summary>The credential names its user (gateway key, JWT): the gateway's conversation id replaces the caller's.</summary>
    public bool EndUser => Caller?.UserId is not null;

    // read
    /// <summary>The client's body as read (empty for none).</summary>
    public ReadOnlyMemory<byte> ClientBody { get; set; }

    /// <summary>The array the body was read into, returned when the request ends.</summary>
    internal byte[]? RentedBody { get; set; }

    /// <summary>The few fields the gateway reads from the body.</summary>
    public ChatRequest Chat { get; set; }

    // identify
    /// <summary>The pool, taken once: assignment, routing and secret scrubbing use the same keys.</summary>
    public PoolSnapshot? Pool { get; set; }

    /// <summary>The end user (credential, header or body), or null for requests of no user.</summary>
    public string? UserId { get; set; }

    /// <summary>The end user's record, when the request has one.</summary>
    public UserRecord? User { get; set; }

    /// <summary>The user's tier, <c>-</c> for requests of no user.</summary>
    public string Tier { get; set; } = "-";

    /// <summary>The user's key group, 0 for requests of no user (any key may answer).</summary>
    public int Group { get; set; }

    /// <summary>The request's business with stored objects (the team it is pinned to), when it has any.</summary>
    public StoredObjectRoute? Stored { get; set; }

    // plan
    /// <summary>What will be sent upstream and what it is expected to cost.</summary>
    public RequestPlan Plan { get; set; }

    /// <summary>The body to send upstream (already rewritten).</summary>
    public ReadOnlyMemory<byte> Body => Plan.Body;

    /// <summary>The gateway asked for stream usage on the client's behalf: drop that chunk on the way back.</summary>
    public bool StripUsageChunk => Plan.StripUsageChunk;

    // limit, attempts
    private RequestBudget _budget;

    /// <summary>
    /// What the request holds against the tier's limits and the keys' budgets: reserved by the limit stage and each
    /// attempt, settled once when the request ends. A mutable struct, reached by reference (never copied).
    /// </summary>
    public ref RequestBudget Budget => ref _budget;

    // attempts
    /// <summary>Fires at the request's deadline (all attempts together) or when the client leaves.</summary>
    public CancellationToken Cancellation { get; set; }

    /// <summary>The deadline source behind <see cref="Cancellation"/>, while the attempts run.</summary>
    internal DeadlineSources.Deadline? Deadline { get; set; }

    /// <summary>Attempts made (keys asked).</summary>
    public int Attempts { get; set; }

    // outcome
    /// <summary>The refusal that ended the request, if one did (its status and code are what the client got).</summary>
    public Refusal? Refusal { get; set; }

    /// <summary>What the attempts leave for the request log and the trace (key group, times, usage).</summary>
    public Telemetry.RequestTrail Trail { get; } = new();

    public bool ClientLeft => Context.RequestAborted.IsCancellationRequested;
}

/// <summary>One attempt as the forwarder saw it: the facts for the outcome policy, plus what the host counts.</summary>
/// <param name="Outcome">The facts the policy judges.</param>
/// <param name="Usage">The upstream's usage, when it reported one.</param>
/// <param name="FirstByte">Time to the upstream's response headers, when they came.</param>
/// <param name="Elapsed">Time the attempt took.</param>
/// <param name="Detail">Why the exchange failed (an exception type or message without secrets), for the log.</param>
internal readonly record struct ForwardResult(UpstreamOutcome Outcome, TokenCounts? Usage, TimeSpan? FirstByte, TimeSpan Elapsed, string? Detail = null);
