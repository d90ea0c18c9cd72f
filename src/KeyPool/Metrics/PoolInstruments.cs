using System.Diagnostics.Metrics;
using KeyPool.Core.Capacity;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Limits;
using KeyPool.Core.Money;
using KeyPool.Core.Routing;
using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Users;
using Prometheus;
using KeyReport = KeyPool.Core.Health.KeyReport;

namespace KeyPool.Metrics;

/// <summary>
/// The pool's figures per key group and as a whole, as observable instruments of the "KeyPool" meter: read from the
/// router, the usage totals and the user counts when a listener collects (a <c>/metrics</c> scrape, OTLP,
/// <c>dotnet-counters</c>), never on a request. Each is mapped onto the Prometheus series it always was; a group that
/// leaves the pool stops being reported, and its series go with it.
/// </summary>
internal sealed class PoolInstruments
{
    private const string GroupTag = "keypool.key_group";
    private static readonly TimeSpan UsersMaxAge = TimeSpan.FromSeconds(15);
    private static readonly string[] Group = ["group"];
    private static readonly KeyState[] States = [KeyState.Active, KeyState.CoolingDown, KeyState.Saturated, KeyState.Revoked, KeyState.Missing]; // one per label: both resting states are "cooling"
    private static readonly (UserLimitKind Kind, string Name)[] Limits =
        [(UserLimitKind.RequestsPerMinute, "requests_per_minute"), (UserLimitKind.TokensPerMinute, "tokens_per_minute"), (UserLimitKind.TokensPerDay, "tokens_per_day")];

    private readonly KeyPoolRouter _router;
    private readonly UsageRecorder _usage;
    private readonly UserCounts _users;
    private readonly UserLimiter _limiter;
    private readonly CapacityOptions _capacity;
    private readonly Meter _meter;
    private readonly MetricFactory _prometheus;
    private readonly PrometheusBridge _bridge;
    private readonly TimeProvider _time;
    private int _refreshingUsers;
    // Taken once for a /metrics scrape, so every series of it describes the same instant; other listeners read afresh.
    private volatile Frame? _scrape;

    public PoolInstruments(
        KeyPoolRouter router, UsageRecorder usage, UserCounts users, UserLimiter limiter, CapacityOptions capacity,
        Meter meter, MetricFactory prometheus, PrometheusBridge bridge, TimeProvider time)
    {
        _time = time;
        (_router, _usage, _users, _limiter, _capacity) = (router, usage, users, limiter, capacity);
        (_meter, _prometheus, _bridge) = (meter, prometheus, bridge);

        PerGroupCounter("keypool.requests", "{request}", t => t.Requests, "keypool_requests_total", "Requests forwarded upstream, per key group (all outcomes).");
        PerGroupCounter("keypool.tokens", "{token}", t => t.TotalTokens, "keypool_tokens_total", "Tokens of record (upstream usage.total_tokens), per key group.");
        PerGroupCounter("keypool.tokens.prompt", "{token}", t => t.PromptTokens, "keypool_prompt_tokens_total", "Prompt tokens, per key group.");
        PerGroupCounter("keypool.tokens.completion", "{token}", t => t.CompletionTokens, "keypool_completion_tokens_total", "Completion tokens, per key group.");
        PerGroupCounter("keypool.tokens.reasoning", "{token}", t => t.ReasoningTokens, "keypool_reasoning_tokens_total", "Reasoning tokens (on top of completion tokens), per key group.");
        PerGroupCounter("keypool.tokens.cached", "{token}", t => t.CachedTokens, "keypool_cached_tokens_total", "Cached prompt tokens, per key group.");
        Map(meter.CreateObservableCounter("keypool.cost", () => Read().Keys.Select(k => Measure((double)UsdTicks.ToUsd(k.Totals.CostTicks), k.Report.Group)), "USD",
                "What requests cost (upstream cost_in_usd_ticks; price-table estimates where it sent none), per key group."),
            prometheus.CreateCounter("keypool_cost_usd_total", "What requests cost in USD (upstream cost_in_usd_ticks; price-table estimates where it sent none), per key group.", Group), GroupTag);
        Map(meter.CreateObservableCounter("keypool.upstream.errors", () => Read().Keys.SelectMany(ErrorClasses), "{response}",
                "Upstream error responses per key group; keypool.error_class is 429, 4xx (other than 429) or 5xx."),
            prometheus.CreateCounter("keypool_upstream_errors_total", "Upstream error responses per key group; class is 429, 4xx (other than 429) or 5xx.", ["group", "class"]),
            GroupTag, "keypool.error_class");
        PerGroup(meter.CreateObservableCounter("keypool.spills_in", () => Read().Keys.Select(k => Measure(k.Report.SpillsIn, k.Report.Group)), "{request}",
                "Requests served by this group for a user of another group (spill or missing key)."),
            prometheus.CreateCounter("keypool_spills_in_total", "Requests served by this group for a user of another group (spill or missing key).", Group));
        PerGroup(meter.CreateObservableCounter("keypool.group_rejections", () => Read().Keys.Select(k => Measure(k.Report.Rejections, k.Report.Group)), "{request}",
                "Times this group could not take a request it was asked for."),
            prometheus.CreateCounter("keypool_group_rejections_total", "Times this group could not take a request it was asked for.", Group));
        PerGroupGauge("keypool.rpm.used", "{request}", r => r.RequestsUsed, "keypool_rpm_used", "Requests used in the current minute window, per key group.");
        PerGroupGauge("keypool.rpm.limit", "{request}", r => r.RequestsLimit, "keypool_rpm_limit", "Requests-per-minute limit, per key group.");
        PerGroupGauge("keypool.tpm.used", "{token}", r => r.TokensUsed, "keypool_tpm_used", "Tokens used in the current minute window, per key group.");
        PerGroupGauge("keypool.tpm.limit", "{token}", r => r.TokensLimit, "keypool_tpm_limit", "Tokens-per-minute limit, per key group.");
        Map(meter.CreateObservableGauge("keypool.key.state", () => StateMeasurements(Read()), null,
                "1 for the key group's current state (keypool.key_state: active, cooling, saturated, revoked, missing), 0 for the others."),
            prometheus.CreateGauge("keypool_key_state", "1 for the key group's current state (active, cooling, saturated, revoked, missing), 0 for the others.", ["group", "state"]),
            GroupTag, "keypool.key_state");
        PerGroup(meter.CreateObservableGauge("keypool.last_request", () => Read().Keys.Where(k => k.Totals.LastRequestAt is not null)
                    .Select(k => Measure(k.Totals.LastRequestAt!.Value.ToUnixTimeMilliseconds() / 1000.0, k.Report.Group)), "s", "Unix time of the group's last request."),
            prometheus.CreateGauge("keypool_last_request_timestamp_seconds", "Unix time of the group's last request.", Group));
        PerGroup(meter.CreateObservableGauge("keypool.users", () => (Read().Users ?? new Dictionary<int, long>()).Select(u => Measure(u.Value, u.Key)), "{user}",
                "End users assigned to the key group."),
            prometheus.CreateGauge("keypool_users", "End users assigned to the key group.", Group));

        PoolGauge("keypool.keys", "{key}", f => f.Keys.Length, "keypool_keys", "Keys detected.");
        PoolGauge("keypool.keys.usable", "{key}", f => f.Keys.Count(k => k.Report.State is KeyState.Active or KeyState.Saturated),
            "keypool_keys_usable", "Keys that can serve now (active or saturated).");
        PoolGauge("keypool.pool.healthy", null, f => f.Health.Healthy ? 1 : 0, "keypool_pool_healthy", "1 when at least one key can serve.");
        PoolGauge("keypool.capacity.daily_users", "{user}", f => f.Health.EstimatedCapacity.DailyUsers,
            "keypool_estimated_capacity_daily_users", "Estimated daily users the usable keys can carry.");
        PoolGauge("keypool.sticky_ratio", null, f => f.Quality.StickyRatio ?? 1,
            "keypool_sticky_ratio", "Share of admitted requests that went to the user's own key, last 5 minutes.");
        PoolGauge("keypool.goodput_ratio", null, f => f.Quality.GoodputRatio ?? 1,
            "keypool_goodput_ratio", "Admitted requests over what the usable keys' budget had room for, last 5 minutes (1 = nothing refused that fit).");
        PoolGauge("keypool.retry_promises", "{user}", f => f.Quality.PromisedRetries, "keypool_retry_promises", "Refused users holding a promised slot (Retry-After) now.");
        Map(meter.CreateObservableCounter("keypool.rejected_requests", () => router.Rejected, "{request}", "Requests refused because no key had room (answered 429 by the gateway)."),
            prometheus.CreateCounter("keypool_rejected_requests_total", "Requests refused because no key had room (answered 429 by the gateway)."));
        Map(meter.CreateObservableCounter("keypool.user_limit.rejections", () => Limits.Select(l => new Measurement<long>(limiter.Refused(l.Kind), new KeyValuePair<string, object?>("keypool.limit", l.Name))),
                "{request}", "Requests refused by a user's tier limit (429 user_rate_limit_exceeded), per limit."),
            prometheus.CreateCounter("keypool_user_limit_rejections_total", "Requests refused by a user's tier limit (429 user_rate_limit_exceeded), per limit.", ["limit"]), "keypool.limit");
        Map(meter.CreateObservableGauge("keypool.user_limit.counters", () => limiter.Count, "{user}", "Users of limited tiers whose counts are held in memory."),
            prometheus.CreateGauge("keypool_user_limit_counters", "Users of limited tiers whose counts are held in memory."));
    }

    /// <summary>Reads the user counts (the store, or the last answer while it is down), then renders every instrument into the registry.</summary>
    public async Task ScrapeAsync(CancellationToken cancellationToken)
    {
        var users = await _users.ReadAsync(cancellationToken).ConfigureAwait(false);
        _scrape = Take(users.ByGroup);
        try
        {
            _bridge.Collect();
        }
        finally
        {
            _scrape = null;
        }
    }

    private Frame Read()
    {
        if (_scrape is { } frame)
        {
            return frame;
        }
        RefreshUsersWhenOld();
        return Take(_users.Last?.ByGroup);
    }

    // Another listener (OTLP, dotnet-counters) collects synchronously: it gets the last user counts read, and a read in
    // the background when they are older than a scrape interval, seen by its next collection.
    private void RefreshUsersWhenOld()
    {
        if (_users.Last is { } last && _time.GetUtcNow() - last.ReadAt < UsersMaxAge)
        {
            return;
        }
        if (Interlocked.Exchange(ref _refreshingUsers, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await _users.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (StoreUnavailableException)
                {
                    // The store's outage is the health endpoint's and the store_unreachable alert's to report; the counts wait.
                }
                finally
                {
                    Volatile.Write(ref _refreshingUsers, 0);
                }
            });
        }
    }

    private Frame Take(IReadOnlyDictionary<int, long>? users)
    {
        var pool = _router.Pool;
        var reports = PoolReport.Keys(pool, _router.Second);
        var keys = reports.Select(r => new GroupFigures(r, _usage.Totals(r.Group))).ToArray();
        return new Frame(keys, users, PoolReport.Grade(pool, reports, _capacity), RoutingQuality.Of(_router, _router.Second));
    }

    private static IEnumerable<Measurement<int>> StateMeasurements(Frame frame)
    {
        var keyGroups = frame.Keys.Select(k => k.Report.Group).ToHashSet();
        // Users assigned to a group with no key: that group is "missing" until rebalanced.
        var missing = (frame.Users?.Keys ?? []).Where(g => !keyGroups.Contains(g)).Select(g => (Group: g, State: KeyState.Missing));
        foreach (var (group, current) in frame.Keys.Select(k => (k.Report.Group, k.Report.State)).Concat(missing))
        {
            foreach (var state in States)
            {
                yield return new Measurement<int>(KeyStateNames.Of(state) == KeyStateNames.Of(current) ? 1 : 0,
                    new KeyValuePair<string, object?>(GroupTag, group), new KeyValuePair<string, object?>("keypool.key_state", KeyStateNames.Of(state)));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ErrorClasses(GroupFigures figures)
    {
        var group = new KeyValuePair<string, object?>(GroupTag, figures.Report.Group);
        yield return new Measurement<long>(figures.Totals.Errors429, group, new KeyValuePair<string, object?>("keypool.error_class", "429"));
        yield return new Measurement<long>(figures.Totals.Errors4xx, group, new KeyValuePair<string, object?>("keypool.error_class", "4xx"));
        yield return new Measurement<long>(figures.Totals.Errors5xx, group, new KeyValuePair<string, object?>("keypool.error_class", "5xx"));
    }

    private void PerGroupCounter(string name, string unit, Func<KeyGroupUsage, long> figure, string series, string help) =>
        PerGroup(_meter.CreateObservableCounter(name, () => Read().Keys.Select(k => Measure(figure(k.Totals), k.Report.Group)), unit, help),
            _prometheus.CreateCounter(series, help, Group));

    private void PerGroupGauge(string name, string unit, Func<KeyReport, long> figure, string series, string help) =>
        PerGroup(_meter.CreateObservableGauge(name, () => Read().Keys.Select(k => Measure(figure(k.Report), k.Report.Group)), unit, help),
            _prometheus.CreateGauge(series, help, Group));

    private void PoolGauge(string name, string? unit, Func<Frame, double> figure, string series, string help) =>
        Map(_meter.CreateObservableGauge(name, () => figure(Read()), unit, help), _prometheus.CreateGauge(series, help));

    private void PerGroup(Instrument instrument, Collector collector) => Map(instrument, collector, GroupTag);

    private void Map(Instrument instrument, Collector collector, params string[] tags) => _bridge.Map(instrument, collector, tags);

    private static Measurement<T> Measure<T>(T value, int group) where T : struct =>
        new(value, new KeyValuePair<string, object?>(GroupTag, group));

    private sealed record GroupFigures(KeyReport Report, KeyGroupUsage Totals);

    private sealed record Frame(GroupFigures[] Keys, IReadOnlyDictionary<int, long>? Users, PoolHealth Health, RoutingQuality Quality);
}
