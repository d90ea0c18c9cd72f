using System.Diagnostics.Metrics;
using KeyPool.Core.Health;
using KeyPool.Core.Limits;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Users;
using Microsoft.Extensions.Options;
using Prometheus;

namespace KeyPool.Metrics;

/// <summary>
/// The gateway's Prometheus metrics. Everything per key is labelled by group number only (a key
/// never appears) and read at scrape time from the same state as the health endpoint, so the
/// request path carries no extra work. The registry is per instance: two gateways in one process
/// (tests) never share series.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    private static readonly string[] Group = ["group"];
    private static readonly KeyState[] States = [KeyState.Active, KeyState.CoolingDown, KeyState.Saturated, KeyState.Revoked, KeyState.Missing]; // one per label: both resting states are "cooling"

    private readonly KeyPoolRouter _router;
    private readonly UsageRecorder _usage;
    private readonly UserCounts _users;
    private readonly CapacityOptions _capacity;
    private readonly SemaphoreSlim _scrape = new(1, 1);
    private HashSet<int> _keyGroups = [];
    private HashSet<int> _userGroups = [];

    private readonly Counter _requests;
    private readonly Counter _tokens;
    private readonly Counter _promptTokens;
    private readonly Counter _completionTokens;
    private readonly Counter _reasoningTokens;
    private readonly Counter _cachedTokens;
    private readonly Counter _cost;
    private readonly Counter _errors;
    private readonly Counter _spills;
    private readonly Counter _rejections;
    private readonly Gauge _rpmUsed;
    private readonly Gauge _rpmLimit;
    private readonly Gauge _tpmUsed;
    private readonly Gauge _tpmLimit;
    private readonly Gauge _state;
    private readonly Gauge _lastRequest;
    private readonly Gauge _usersPerGroup;
    private readonly Gauge _keys;
    private readonly Gauge _usableKeys;
    private readonly Gauge _healthy;
    private readonly Gauge _capacityDailyUsers;
    private readonly Counter _poolRejected;
    private readonly Gauge _stickyRatio;
    private readonly Gauge _goodputRatio;
    private readonly Gauge _promisedRetries;
    private readonly Counter _userLimitRefusals;
    private readonly Gauge _userLimitCounters;
    private readonly UserLimiter _limiter;

    public GatewayMetrics(
        KeyPoolRouter router, UsageRecorder usage, UserCounts users, IOptions<CapacityOptions> capacity, IMeterFactory meters, UserLimiter limiter,
        KeyPoolMeter meter, RequestLog.RequestLogWriter requestLog, Alerts.AlertDelivery alerts)
    {
        _limiter = limiter;
        _router = router;
        _usage = usage;
        _users = users;
        _capacity = capacity.Value;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);

        _requests = factory.CreateCounter("keypool_requests_total", "Requests forwarded upstream, per key group (all outcomes).", Group);
        _tokens = factory.CreateCounter("keypool_tokens_total", "Tokens of record (upstream usage.total_tokens), per key group.", Group);
        _promptTokens = factory.CreateCounter("keypool_prompt_tokens_total", "Prompt tokens, per key group.", Group);
        _completionTokens = factory.CreateCounter("keypool_completion_tokens_total", "Completion tokens, per key group.", Group);
        _reasoningTokens = factory.CreateCounter("keypool_reasoning_tokens_total", "Reasoning tokens (on top of completion tokens), per key group.", Group);
        _cachedTokens = factory.CreateCounter("keypool_cached_tokens_total", "Cached prompt tokens, per key group.", Group);
        _cost = factory.CreateCounter("keypool_cost_usd_total", "What requests cost in USD (upstream cost_in_usd_ticks; price-table estimates where it sent none), per key group.", Group);
        _errors = factory.CreateCounter("keypool_upstream_errors_total",
            "Upstream error responses per key group; class is 429, 4xx (other than 429) or 5xx.", ["group", "class"]);
        _spills = factory.CreateCounter("keypool_spills_in_total", "Requests served by this group for a user of another group (spill or missing key).", Group);
        _rejections = factory.CreateCounter("keypool_group_rejections_total", "Times this group could not take a request it was asked for.", Group);
        _userLimitRefusals = factory.CreateCounter("keypool_user_limit_rejections_total", "Requests refused by a user's tier limit (429 user_rate_limit_exceeded), per limit.", ["limit"]);
        _userLimitCounters = factory.CreateGauge("keypool_user_limit_counters", "Users of limited tiers whose counts are held in memory.");
        _poolRejected = factory.CreateCounter("keypool_rejected_requests_total", "Requests refused because no key had room (answered 429 by the gateway).");
        _rpmUsed = factory.CreateGauge("keypool_rpm_used", "Requests used in the current minute window, per key group.", Group);
        _rpmLimit = factory.CreateGauge("keypool_rpm_limit", "Requests-per-minute limit, per key group.", Group);
        _tpmUsed = factory.CreateGauge("keypool_tpm_used", "Tokens used in the current minute window, per key group.", Group);
        _tpmLimit = factory.CreateGauge("keypool_tpm_limit", "Tokens-per-minute limit, per key group.", Group);
        _state = factory.CreateGauge("keypool_key_state", "1 for the key group's current state (active, cooling, saturated, revoked, missing), 0 for the others.", ["group", "state"]);
        _lastRequest = factory.CreateGauge("keypool_last_request_timestamp_seconds", "Unix time of the group's last request.", Group);
        _usersPerGroup = factory.CreateGauge("keypool_users", "End users assigned to the key group.", Group);
        _keys = factory.CreateGauge("keypool_keys", "Keys detected.");
        _usableKeys = factory.CreateGauge("keypool_keys_usable", "Keys that can serve now (active or saturated).");
        _healthy = factory.CreateGauge("keypool_pool_healthy", "1 when at least one key can serve.");
        _capacityDailyUsers = factory.CreateGauge("keypool_estimated_capacity_daily_users", "Estimated daily users the usable keys can carry.");
        _stickyRatio = factory.CreateGauge("keypool_sticky_ratio", "Share of admitted requests that went to the user's own key, last 5 minutes.");
        _goodputRatio = factory.CreateGauge("keypool_goodput_ratio", "Admitted requests over what the usable keys' budget had room for, last 5 minutes (1 = nothing refused that fit).");
        _promisedRetries = factory.CreateGauge("keypool_retry_promises", "Refused users holding a promised slot (Retry-After) now.");
        Bridge = new PrometheusBridge(meter.Meter);
        Latency = new ProxyLatency(factory, meters, meter, Bridge);
        Bridge.Map(meter.Meter.CreateObservableCounter("keypool.request_log.dropped", () => requestLog.Dropped, "{line}",
                "Request log lines dropped because the writer could not keep up (requests never wait for it)."),
            factory.CreateCounter("keypool_request_log_dropped_total", "Request log lines dropped because the writer could not keep up (requests never wait for it)."));
        Bridge.Map(meter.Meter.CreateObservableCounter("keypool.request_log.written", () => requestLog.Written, "{line}", "Request log lines written."),
            factory.CreateCounter("keypool_request_log_written_total", "Request log lines written (file and/or console)."));
        Bridge.Map(meter.Meter.CreateObservableCounter("keypool.alerts.delivered", () => alerts.Delivered, "{message}", "Alert messages a webhook accepted."),
            factory.CreateCounter("keypool_alerts_delivered_total", "Alert messages (firing or resolved) a webhook accepted."));
        Bridge.Map(meter.Meter.CreateObservableCounter("keypool.alerts.failed", () => alerts.Failed, "{message}", "Alert messages given up after every retry."),
            factory.CreateCounter("keypool_alerts_failed_total", "Alert messages given up after every retry."));

        Registry.AddBeforeCollectCallback(UpdateAsync);
    }

    public CollectorRegistry Registry { get; }

    public ProxyLatency Latency { get; }

    public PrometheusBridge Bridge { get; }

    private async Task UpdateAsync(CancellationToken cancellationToken)
    {
        Bridge.Collect();
        var userCounts = (await _users.ReadAsync(cancellationToken).ConfigureAwait(false)).ByGroup;
        await _scrape.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var pool = _router.Pool;
            var reports = PoolReport.Keys(pool, _router.Second);
            var keyGroups = new HashSet<int>();
            foreach (var report in reports)
            {
                keyGroups.Add(report.Group);
                var g = Label(report.Group);
                var totals = _usage.Totals(report.Group);
                _requests.WithLabels(g).IncTo(totals.Requests);
                _tokens.WithLabels(g).IncTo(totals.TotalTokens);
                _promptTokens.WithLabels(g).IncTo(totals.PromptTokens);
                _completionTokens.WithLabels(g).IncTo(totals.CompletionTokens);
                _reasoningTokens.WithLabels(g).IncTo(totals.ReasoningTokens);
                _cachedTokens.WithLabels(g).IncTo(totals.CachedTokens);
                _cost.WithLabels(g).IncTo((double)KeyPool.Core.Money.UsdTicks.ToUsd(totals.CostTicks));
                _errors.WithLabels(g, "429").IncTo(totals.Errors429);
                _errors.WithLabels(g, "4xx").IncTo(totals.Errors4xx);
                _errors.WithLabels(g, "5xx").IncTo(totals.Errors5xx);
                _spills.WithLabels(g).IncTo(report.SpillsIn);
                _rejections.WithLabels(g).IncTo(report.Rejections);
                _rpmUsed.WithLabels(g).Set(report.RequestsUsed);
                _rpmLimit.WithLabels(g).Set(report.RequestsLimit);
                _tpmUsed.WithLabels(g).Set(report.TokensUsed);
                _tpmLimit.WithLabels(g).Set(report.TokensLimit);
                if (totals.LastRequestAt is { } last)
                {
                    _lastRequest.WithLabels(g).Set(last.ToUnixTimeMilliseconds() / 1000.0);
                }
                SetState(g, report.State);
            }
            // Users assigned to a group with no key: that group is "missing" until rebalanced.
            foreach (var group in userCounts.Keys.Where(g => !keyGroups.Contains(g)))
            {
                SetState(Label(group), KeyState.Missing);
            }
            foreach (var (group, count) in userCounts)
            {
                _usersPerGroup.WithLabels(Label(group)).Set(count);
            }

            // A key removed from the pool takes its series with it, rather than freezing them.
            foreach (var gone in _keyGroups.Where(g => !keyGroups.Contains(g)))
            {
                RemoveKeySeries(Label(gone), keepState: userCounts.ContainsKey(gone));
            }
            foreach (var gone in _userGroups.Where(g => !userCounts.ContainsKey(g)))
            {
                _usersPerGroup.RemoveLabelled(Label(gone));
                if (!keyGroups.Contains(gone))
                {
                    foreach (var state in States)
                    {
                        _state.RemoveLabelled(Label(gone), KeyStateNames.Of(state));
                    }
                }
            }
            _keyGroups = keyGroups;
            _userGroups = [.. userCounts.Keys];

            var health = PoolReport.Grade(pool, reports, _capacity);
            _keys.Set(reports.Count);
            _usableKeys.Set(reports.Count(r => r.State is KeyState.Active or KeyState.Saturated));
            _healthy.Set(health.Healthy ? 1 : 0);
            _capacityDailyUsers.Set(health.EstimatedCapacity.DailyUsers);
            _poolRejected.IncTo(_router.Rejected);
            _userLimitRefusals.WithLabels("requests_per_minute").IncTo(_limiter.Refused(UserLimitKind.RequestsPerMinute));
            _userLimitRefusals.WithLabels("tokens_per_minute").IncTo(_limiter.Refused(UserLimitKind.TokensPerMinute));
            _userLimitRefusals.WithLabels("tokens_per_day").IncTo(_limiter.Refused(UserLimitKind.TokensPerDay));
            _userLimitCounters.Set(_limiter.Count);
            var quality = Core.Capacity.RoutingQuality.Of(_router, _router.Second);
            _stickyRatio.Set(quality.StickyRatio ?? 1);
            _goodputRatio.Set(quality.GoodputRatio ?? 1);
            _promisedRetries.Set(quality.PromisedRetries);
        }
        finally
        {
            _scrape.Release();
        }
    }

    private void SetState(string group, KeyState current)
    {
        foreach (var state in States)
        {
            _state.WithLabels(group, KeyStateNames.Of(state)).Set(KeyStateNames.Of(state) == KeyStateNames.Of(current) ? 1 : 0);
        }
    }

    private void RemoveKeySeries(string group, bool keepState)
    {
        foreach (var collector in new Collector<Counter.Child>[] { _requests, _tokens, _promptTokens, _completionTokens, _reasoningTokens, _cachedTokens, _cost, _spills, _rejections })
        {
            collector.RemoveLabelled(group);
        }
        foreach (var errorClass in new[] { "429", "4xx", "5xx" })
        {
            _errors.RemoveLabelled(group, errorClass);
        }
        foreach (var gauge in new[] { _rpmUsed, _rpmLimit, _tpmUsed, _tpmLimit, _lastRequest })
        {
            gauge.RemoveLabelled(group);
        }
        if (!keepState)
        {
            foreach (var state in States)
            {
                _state.RemoveLabelled(group, KeyStateNames.Of(state));
            }
        }
    }

    private static string Label(int group) => group.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        Latency.Dispose();
        Bridge.Dispose();
        _scrape.Dispose();
    }
}
