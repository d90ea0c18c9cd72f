using System.Diagnostics.Metrics;
using Prometheus;

namespace KeyPool.Metrics;

/// <summary>
/// Latency of <c>/v1/*</c> requests, read from ASP.NET Core's own <c>http.server.request.duration</c>
/// instrument: the whole request as the client sees it (for a stream, until its last event), with no
/// hook in the proxy. Only this app's meters are heard (its <see cref="IMeterFactory"/>), so several
/// gateways in one process (tests) do not mix.
/// </summary>
internal sealed class ProxyLatency : IDisposable
{
    private const string HostingMeter = "Microsoft.AspNetCore.Hosting";
    private const string DurationInstrument = "http.server.request.duration";
    private const string GroupTag = "keypool.key_group";

    // LLM calls run from tens of milliseconds (errors, cache) to many minutes (reasoning).
    private static readonly double[] Buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

    private readonly MeterListener _listener;
    private readonly Histogram _histogram;
    private readonly Histogram _upstreamFirstByte;
    private readonly Histogram _upstreamDuration;
    private readonly IMeterFactory _scope;
    private readonly Histogram<double> _firstByte;
    private readonly Histogram<double> _duration;
    // Boxed once per group, so an observation allocates nothing.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, object> _groups = new();

    public ProxyLatency(MetricFactory metrics, IMeterFactory scope, KeyPoolMeter meter, PrometheusBridge bridge)
    {
        _firstByte = meter.Meter.CreateHistogram<double>("keypool.upstream.first_byte", "s",
            "Time from sending a request upstream to its response headers, per key group (every attempt).");
        _duration = meter.Meter.CreateHistogram<double>("keypool.upstream.duration", "s",
            "Time from sending a request upstream to the end of its answer, per key group (every attempt).");
        _scope = scope;
        _histogram = metrics.CreateHistogram(
            "keypool_request_duration_seconds",
            "Duration of /v1/* requests through the gateway, by response status class (2xx, 4xx, 5xx).",
            ["code"],
            new HistogramConfiguration { Buckets = Buckets });
        _upstreamFirstByte = metrics.CreateHistogram(
            "keypool_upstream_first_byte_seconds",
            "Time from sending a request upstream to its response headers, per key group (every attempt, retries included).",
            ["group"],
            new HistogramConfiguration { Buckets = Buckets });
        _upstreamDuration = metrics.CreateHistogram(
            "keypool_upstream_duration_seconds",
            "Time from sending a request upstream to the end of its answer, per key group (every attempt, retries included).",
            ["group"],
            new HistogramConfiguration { Buckets = Buckets });
        bridge.Map(_firstByte, _upstreamFirstByte, GroupTag);
        bridge.Map(_duration, _upstreamDuration, GroupTag);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == HostingMeter && instrument.Name == DurationInstrument && ReferenceEquals(instrument.Meter.Scope, _scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<double>(OnDuration);
        _listener.Start();
    }

    private void OnDuration(Instrument instrument, double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string? route = null;
        var status = 0;
        foreach (var tag in tags)
        {
            switch (tag.Key)
            {
                case "http.route": route = tag.Value as string; break;
                case "http.response.status_code": status = tag.Value is int code ? code : 0; break;
            }
        }
        if (route is null || !route.StartsWith("/v1/", StringComparison.Ordinal))
        {
            return;
        }
        _histogram.WithLabels(StatusClass(status)).Observe(seconds);
    }

    /// <summary>One upstream attempt of <paramref name="group"/>: headers after <paramref name="firstByte"/> (null when none came), done after <paramref name="total"/>.</summary>
    public void ObserveUpstream(int group, TimeSpan? firstByte, TimeSpan total)
    {
        var tag = new KeyValuePair<string, object?>(GroupTag, _groups.GetOrAdd(group, static g => g));
        if (firstByte is { } headers)
        {
            _firstByte.Record(headers.TotalSeconds, tag);
        }
        _duration.Record(total.TotalSeconds, tag);
    }

    private static string StatusClass(int status) => status switch
    {
        >= 500 => "5xx",
        >= 400 => "4xx",
        >= 300 => "3xx",
        >= 200 => "2xx",
        _ => "other",
    };

    public void Dispose() => _listener.Dispose();
}
