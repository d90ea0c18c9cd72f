using KeyPool.Core.Money;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using KeyPool.Metrics;

namespace KeyPool.Proxy;

/// <summary>Writes down each attempt: the route log line, usage in memory, upstream latency, and what the outcome did to the key.</summary>
internal sealed class AttemptLog(UsageRecorder usage, UserUsageRecorder userUsage, PriceTable prices, GatewayMetrics metrics, ILogger<ProxyHandler> logger)
{
    public void Routed(in Admission admission, int userGroup, in RequestPlan plan, string policy)
    {
        var group = admission.Member.Group;
        if (admission.Reason == RouteReason.MissingKeyFallback)
        {
            Log.MissingKeyFallback(logger, userGroup, group, policy);
        }
        else if (admission.Reason == RouteReason.Spill)
        {
            Log.Spilled(logger, userGroup, group);
        }
        Log.UsingModel(logger, plan.Model ?? "-", plan.Tier, group);
    }

    // userId: null for requests of no user (group 0, e.g. GET /v1/models), whose usage is only the key's.
    public void Completed(PoolSnapshot pool, in Admission admission, in ForwardResult result, in OutcomeVerdict verdict, TimeSpan timeout, string? userId)
    {
        var group = admission.Member.Group;
        var outcome = result.Outcome;
        // No answer: the status the policy gives the client (502, 504); else the upstream's (0 when the client left before one).
        var status = outcome.Kind is OutcomeKind.Unreachable or OutcomeKind.TimedOut ? verdict.ClientStatus : outcome.Status;
        var sample = result.Usage is { } counts ? counts.ToSample(group, status, prices, pool.ModelName(admission.ModelId)) : new UsageSample(group, status);
        usage.Record(sample);
        if (userId is not null)
        {
            userUsage.Record(userId, sample);
        }
        metrics.Latency.ObserveUpstream(group, result.FirstByte, result.Elapsed);
        switch (outcome.Kind)
        {
            case OutcomeKind.Unreachable:
                Log.UpstreamUnreachable(logger, group, result.Detail ?? "connection failed");
                break;
            case OutcomeKind.TimedOut:
                Log.UpstreamTimeout(logger, group, timeout);
                break;
            case OutcomeKind.BrokeMidway:
                Log.AnswerBrokeOff(logger, group, result.Detail ?? "unknown", outcome.ClientSawBytes);
                break;
        }
        if (verdict.BurstTightened)
        {
            Capacity.BurstLog.Tightened(logger, admission, outcome.RemainingRequests);
        }
        switch (verdict.Change)
        {
            case KeyChange.Revoked:
                var message = outcome.ErrorMessage is { } raw ? SecretScrubber.Scrub(raw, pool.Ring) : "-";
                Log.KeyRejected(logger, group, outcome.Status, message);
                break;
            case KeyChange.CoolingDown:
                Log.CoolingDown(logger, group, verdict.CoolFor ?? TimeSpan.Zero);
                break;
            case KeyChange.CircuitOpened:
                Log.CircuitOpened(logger, group);
                break;
            case KeyChange.AccessDenied:
                Log.ModelRefused(logger, group, pool.ModelName(admission.ModelId));
                break;
        }
    }
}
