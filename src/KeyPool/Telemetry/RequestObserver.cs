using System.Diagnostics;
using KeyPool.Core.Routing;
using KeyPool.Proxy;
using KeyPool.RequestLog;
using Microsoft.Extensions.Options;

namespace KeyPool.Telemetry;

/// <summary>The facts of a finished request that the request path knows (the rest is in its <see cref="RequestTrail"/>).</summary>
internal readonly record struct RequestFacts(
    long Started, string Endpoint, string? UserId, string? Tier, int UserGroup, string? Model, bool Stream, int Status, string? ErrorCode, int Attempts, string CallerKind);

/// <summary>
/// The request path's one observer: it opens and closes the admission and attempt spans, and when the request ends
/// writes its log line (queued, never awaited) and tags the server span. With tracing off every span call returns at
/// the null check; the log line is one small object per request.
/// </summary>
internal sealed class RequestObserver(
    TimeProvider time,
    RequestLogWriter writer,
    RecentRequests recent,
    Fingerprints fingerprints,
    InstanceName instance,
    IOptions<RequestLogOptions> logOptions,
    IOptions<TelemetryOptions> telemetryOptions)
{
    private readonly UserIdMode _logUser = logOptions.Value.UserId;
    private readonly UserIdMode _traceUser = telemetryOptions.Value.UserId;
    private readonly bool _keep = logOptions.Value.Recent > 0 || logOptions.Value.Writes;

    /// <summary>Before asking the router for a key.</summary>
    public void Admitting(RequestTrail trail, int attempt)
    {
        trail.AdmitStarted = time.GetTimestamp();
        var span = KeyPoolTraces.Source.StartActivity("keypool.admission", ActivityKind.Internal);
        if (span is not null)
        {
            span.SetTag(KeyPoolTraces.Attempt, attempt);
            trail.AdmissionSpan = span;
        }
    }

    /// <summary>The router's answer: a key (<paramref name="admission"/>) or none (<paramref name="refusal"/> says why).</summary>
    public void Admitted(RequestTrail trail, Admission? admission, int userGroup, string? refusal = null)
    {
        trail.Queued += time.GetElapsedTime(trail.AdmitStarted);
        if (admission is { } admitted)
        {
            trail.KeyGroup = admitted.Member.Group;
            trail.Team = admitted.Member.Team;
            trail.Spilled |= userGroup != 0 && admitted.Member.Group != userGroup;
        }
        else
        {
            trail.Refusal = refusal ?? "no_key_with_room";
        }
        if (trail.AdmissionSpan is not { } span)
        {
            return;
        }
        trail.AdmissionSpan = null;
        span.SetTag(KeyPoolTraces.QueueMs, Math.Round(time.GetElapsedTime(trail.AdmitStarted).TotalMilliseconds, 3));
        if (admission is { } a)
        {
            span.SetTag(KeyPoolTraces.KeyGroup, a.Member.Group);
            span.SetTag(KeyPoolTraces.UserGroup, userGroup);
            span.SetTag(KeyPoolTraces.RouteReason, a.Reason.ToString());
            span.SetTag(KeyPoolTraces.Spilled, userGroup != 0 && a.Member.Group != userGroup);
        }
        else
        {
            span.SetTag(KeyPoolTraces.Refusal, trail.Refusal);
            span.SetStatus(ActivityStatusCode.Error, trail.Refusal);
        }
        span.Dispose();
    }

    /// <summary>Before sending an attempt upstream with the admitted key.</summary>
    public void Forwarding(RequestTrail trail, in Admission admission, string path, string? model, int attempt)
    {
        if (!KeyPoolTraces.Source.HasListeners())
        {
            return;
        }
        var operation = KeyPoolTraces.Operation(path);
        var span = KeyPoolTraces.Source.StartActivity(model is null ? operation : $"{operation} {model}", ActivityKind.Client);
        if (span is null)
        {
            return;
        }
        span.SetTag(KeyPoolTraces.OperationName, operation);
        span.SetTag(KeyPoolTraces.ProviderName, KeyPoolTraces.Provider);
        span.SetTag(KeyPoolTraces.System, KeyPoolTraces.Provider);
        span.SetTag(KeyPoolTraces.RequestModel, model);
        span.SetTag(KeyPoolTraces.KeyGroup, admission.Member.Group);
        span.SetTag(KeyPoolTraces.Team, fingerprints.Team(admission.Member.Team));
        span.SetTag(KeyPoolTraces.Attempt, attempt);
        trail.AttemptSpan = span;
    }

    /// <summary>What the attempt came to.</summary>
    public void Forwarded(RequestTrail trail, in ForwardResult result, string? model)
    {
        trail.Upstream = result.Elapsed;
        trail.FirstByte = result.FirstByte;
        if (result.Usage is { } usage)
        {
            trail.Usage = usage;
        }
        if (trail.AttemptSpan is not { } span)
        {
            return;
        }
        trail.AttemptSpan = null;
        var outcome = result.Outcome;
        if (outcome.Status > 0)
        {
            span.SetTag(KeyPoolTraces.HttpStatus, outcome.Status);
        }
        span.SetTag(KeyPoolTraces.ResponseModel, model);
        if (result.Usage is { } counts)
        {
            Usage(span, counts);
        }
        if (outcome.Status is 0 or >= 400)
        {
            span.SetTag(KeyPoolTraces.ErrorType, outcome.Status > 0 ? outcome.Status.ToString(System.Globalization.CultureInfo.InvariantCulture) : outcome.Kind.ToString());
            span.SetStatus(ActivityStatusCode.Error);
        }
        span.Dispose();
    }

    /// <summary>The request is over (whatever stage ended it).</summary>
    public void Finished(ProxyExchange exchange)
    {
        var response = exchange.Context.Response;
        var status = exchange.Refusal is { Status: > 0 } refusal ? refusal.Status : response.StatusCode;
        var facts = new RequestFacts(
            exchange.Started,
            exchange.Path is { Length: > 0 } path ? path : exchange.Context.Request.Path.Value ?? "",
            exchange.UserId,
            exchange.Tier,
            exchange.Group,
            exchange.Plan.Model ?? exchange.Chat.Model,
            exchange.Chat.Stream,
            exchange.ClientLeft && !response.HasStarted ? 499 : status,
            exchange.Refusal is { Code.Length: > 0 } refused ? refused.Code : null,
            exchange.Attempts,
            exchange.Caller is null ? "none" : exchange.Caller.UserId is null ? "client_token" : "end_user");
        Finished(facts, exchange.Trail);
    }

    /// <summary>The request is over: its log line, and KeyPool's attributes on the server span.</summary>
    public void Finished(in RequestFacts facts, RequestTrail trail)
    {
        // A span left open (an exception between the hooks) is closed with the request.
        trail.AdmissionSpan?.Dispose();
        trail.AttemptSpan?.Dispose();
        TagServerSpan(facts, trail);
        if (!_keep)
        {
            return;
        }
        var usage = trail.Usage;
        var entry = new RequestLogEntry
        {
            Time = time.GetUtcNow(),
            Instance = instance.Value,
            User = fingerprints.User(facts.UserId, _logUser),
            Tier = facts.Tier is "-" ? null : facts.Tier,
            KeyGroup = trail.KeyGroup,
            TeamHash = trail.Team is { } team ? fingerprints.Team(team) : null,
            Model = facts.Model,
            Endpoint = facts.Endpoint,
            Status = facts.Status,
            ErrorCode = facts.ErrorCode,
            Attempts = facts.Attempts,
            Spilled = trail.Spilled,
            QueueMs = Math.Round(trail.Queued.TotalMilliseconds, 3),
            UpstreamMs = trail.Upstream is { } upstream ? Math.Round(upstream.TotalMilliseconds, 3) : null,
            FirstByteMs = trail.FirstByte is { } first ? Math.Round(first.TotalMilliseconds, 3) : null,
            DurationMs = Math.Round(time.GetElapsedTime(facts.Started).TotalMilliseconds, 3),
            InputTokens = usage?.Prompt,
            OutputTokens = usage?.Completion,
            CachedTokens = usage?.Cached,
            ReasoningTokens = usage?.Reasoning,
            CostUsd = usage is { } u ? CostUsd(u) : null,
            Stream = facts.Stream,
            CallerKind = facts.CallerKind,
        };
        recent.Add(entry);
        writer.TryWrite(entry);
    }

    private void TagServerSpan(in RequestFacts facts, RequestTrail trail)
    {
        if (!KeyPoolTraces.Source.HasListeners() || Activity.Current is not { IsAllDataRequested: true } span || span.Kind != ActivityKind.Server)
        {
            return;
        }
        var operation = KeyPoolTraces.Operation(facts.Endpoint);
        span.SetTag(KeyPoolTraces.OperationName, operation);
        span.SetTag(KeyPoolTraces.ProviderName, KeyPoolTraces.Provider);
        span.SetTag(KeyPoolTraces.System, KeyPoolTraces.Provider);
        span.SetTag(KeyPoolTraces.RequestModel, facts.Model);
        span.SetTag(KeyPoolTraces.ResponseModel, trail.Usage is null ? null : facts.Model);
        span.SetTag(KeyPoolTraces.Stream, facts.Stream);
        span.SetTag(KeyPoolTraces.Tier, facts.Tier);
        span.SetTag(KeyPoolTraces.UserGroup, facts.UserGroup);
        span.SetTag(KeyPoolTraces.Attempts, facts.Attempts);
        span.SetTag(KeyPoolTraces.QueueMs, Math.Round(trail.Queued.TotalMilliseconds, 3));
        span.SetTag(KeyPoolTraces.Spilled, trail.Spilled);
        span.SetTag(KeyPoolTraces.ErrorCode, facts.ErrorCode);
        span.SetTag(KeyPoolTraces.EndUser, fingerprints.User(facts.UserId, _traceUser));
        if (trail.KeyGroup is { } group)
        {
            span.SetTag(KeyPoolTraces.KeyGroup, group);
            span.SetTag(KeyPoolTraces.Team, fingerprints.Team(trail.Team ?? ""));
        }
        if (trail.Usage is { } usage)
        {
            Usage(span, usage);
        }
    }

    private static void Usage(Activity span, in TokenCounts usage)
    {
        span.SetTag(KeyPoolTraces.InputTokens, usage.Prompt);
        span.SetTag(KeyPoolTraces.OutputTokens, usage.Completion + usage.Reasoning);
        span.SetTag(KeyPoolTraces.CachedTokens, usage.Cached);
        span.SetTag(KeyPoolTraces.ReasoningTokens, usage.Reasoning);
        if (CostUsd(usage) is { } cost)
        {
            span.SetTag(KeyPoolTraces.Cost, (double)cost);
        }
    }

    // The upstream's own figure, when it sent one (cost_in_usd_ticks: 10^10 ticks per dollar).
    private static decimal? CostUsd(in TokenCounts usage) => usage.CostTicks is { } ticks ? ticks / 10_000_000_000m : null;
}
