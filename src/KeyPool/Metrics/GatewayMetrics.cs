using System.Diagnostics.Metrics;
using KeyPool.Core.Health;
using KeyPool.Core.Limits;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Users;
using Microsoft.Extensions.Options;

namespace KeyPool.Metrics;

/// <summary>
/// The gateway's metrics: instruments of the "KeyPool" meter (<see cref="PoolInstruments"/>, the upstream latencies,
/// the request log and alert counters), rendered into the Prometheus registry of <c>/metrics</c> by one
/// <see cref="PrometheusBridge"/>. Everything per key is labelled by group number only (a key never appears) and
/// read when collected from the same state as the health endpoint, so the request path carries no extra work. The
/// registry is per instance: two gateways in one process (tests) never share series.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public GatewayMetrics(
        KeyPoolRouter router, UsageRecorder usage, UserCounts users, IOptions<CapacityOptions> capacity, IMeterFactory meters, UserLimiter limiter,
        KeyPoolMeter meter, RequestLog.RequestLogWriter requestLog, Alerts.AlertDelivery alerts, TimeProvider time)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        Bridge = new PrometheusBridge(meter.Meter);
        var pool = new PoolInstruments(router, usage, users, limiter, capacity.Value, meter.Meter, factory, Bridge, time);
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

        Registry.AddBeforeCollectCallback(pool.ScrapeAsync);
    }

    public Prometheus.CollectorRegistry Registry { get; }

    public ProxyLatency Latency { get; }

    public PrometheusBridge Bridge { get; }

    public void Dispose()
    {
        Latency.Dispose();
        Bridge.Dispose();
    }
}
