using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Proxy;
using KeyPool.RequestLog;
using KeyPool.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KeyPool.Benchmarks;

/// <summary>
/// What observing one request costs on the request path: the five observer calls of a one-attempt request
/// (admission span, attempt span, the request log line into the dashboard's list and the writer's queue, the
/// server span's attributes). <c>Tracing=False</c>: no listener (OTEL_EXPORTER_OTLP_ENDPOINT unset), the spans are
/// never started. <c>Tracing=True</c>: a listener that records every span (what the SDK's sampler does by default),
/// without the exporter's work, which happens on its own thread.
/// </summary>
[MemoryDiagnoser]
public class ObservationBenchmarks
{
    [Params(false, true)]
    public bool Tracing { get; set; }

    private ActivityListener? _listener;
    private RequestObserver _observer = null!;
    private Admission _admission;
    private ForwardResult _result;
    private RequestFacts _facts;

    [GlobalSetup]
    public void Setup()
    {
        var ring = new KeyRing([new UpstreamKey(1, "xai-bench-00000000000000000001")]);
        var router = new KeyPoolRouter(
            ring,
            KeySelectionPolicies.Create(KeySelectionPolicies.StickyWithSpillover, new RoutingOptions(), new Random(1))!,
            new RoutingOptions(),
            new BudgetOptions { RequestsPerMinute = int.MaxValue / 2, TokensPerMinute = 1L << 50 },
            new KeyHealthOptions(),
            new Dictionary<int, GroupSettings>(),
            TimeProvider.System);
        _admission = router.TryAdmit(1, router.Pool.ModelId("grok-4.3"), 1200)!.Value;
        _result = new ForwardResult(new UpstreamOutcome(OutcomeKind.Answered, 200), new TokenCounts(400, 90, 0, 0, 490) { CostTicks = 4_172_000 },
            TimeSpan.FromMilliseconds(240), TimeSpan.FromMilliseconds(812));
        _facts = new RequestFacts(TimeProvider.System.GetTimestamp(), "/chat/completions", "user-42", "free", 1, "grok-4.3", true, 200, null, 1, "client_token");
        var logOptions = Options.Create(new RequestLogOptions()); // the dashboard's list only: no file, no console
        _observer = new RequestObserver(TimeProvider.System, new RequestLogWriter(logOptions, NullLogger<RequestLogWriter>.Instance),
            new RecentRequests(500), new Fingerprints("bench"), new InstanceName("bench"), logOptions, Options.Create(new TelemetryOptions()));
        if (Tracing)
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == KeyPoolTraces.SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            };
            ActivitySource.AddActivityListener(_listener);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _listener?.Dispose();

    [Benchmark]
    public void OneRequest()
    {
        var trail = new RequestTrail();
        _observer.Admitting(trail, 1);
        _observer.Admitted(trail, _admission, 1);
        _observer.Forwarding(trail, _admission, "/chat/completions", "grok-4.3", 1);
        _observer.Forwarded(trail, _result, "grok-4.3");
        _observer.Finished(_facts, trail);
    }
}
