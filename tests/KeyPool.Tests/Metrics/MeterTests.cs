using System.Diagnostics.Metrics;
using System.Globalization;
using KeyPool.Metrics;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace KeyPool.Tests.Metrics;

/// <summary>The pool's figures are instruments of the "KeyPool" meter, counted once: what a MeterListener reads is what /metrics shows.</summary>
public sealed class MeterTests
{
    [Fact]
    public async Task PoolFigures_ReadFromTheMeter_AreTheSeriesOfMetrics()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(200, (await gateway.ChatAsync($"meter-{i}")).Status);
        }
        var revoked = await gateway.GroupOfAsync("meter-0");
        gateway.Emulator.Faults.Revoke(gateway.Keys[revoked - 1]);
        Assert.Equal(200, (await gateway.ChatAsync("meter-0")).Status); // retried on another key; this one is now revoked
        var meter = gateway.App.Services.GetRequiredService<KeyPoolMeter>().Meter;
        await MetricsTests.ScrapeAsync(gateway); // reads the user counts, which other listeners get from then on

        // The last request's usage is recorded as it ends: read until all 7 are counted, bounded.
        Dictionary<string, double> measured = [];
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            measured = Listen(meter);
            if (Enumerable.Range(1, 3).Sum(g => measured.GetValueOrDefault($"keypool.requests{{{g}}}")) >= 8)
            {
                break;
            }
            await Task.Delay(50);
        }
        var scraped = await MetricsTests.ScrapeAsync(gateway);

        for (var group = 1; group <= 3; group++)
        {
            var g = group.ToString(CultureInfo.InvariantCulture);
            Assert.Equal(measured[$"keypool.requests{{{g}}}"], scraped[$"keypool_requests_total{{group=\"{g}\"}}"]);
            Assert.Equal(measured[$"keypool.tokens{{{g}}}"], scraped[$"keypool_tokens_total{{group=\"{g}\"}}"]);
            Assert.Equal(measured[$"keypool.cost{{{g}}}"], scraped[$"keypool_cost_usd_total{{group=\"{g}\"}}"], 12);
            Assert.Equal(measured[$"keypool.upstream.errors{{{g},4xx}}"], scraped[$"keypool_upstream_errors_total{{group=\"{g}\",class=\"4xx\"}}"]);
            Assert.Equal(measured[$"keypool.rpm.limit{{{g}}}"], scraped[$"keypool_rpm_limit{{group=\"{g}\"}}"]);
            Assert.Equal(measured[$"keypool.users{{{g}}}"], scraped[$"keypool_users{{group=\"{g}\"}}"]);
            foreach (var state in new[] { "active", "cooling", "saturated", "revoked", "missing" })
            {
                Assert.Equal(measured[$"keypool.key.state{{{g},{state}}}"], scraped[$"keypool_key_state{{group=\"{g}\",state=\"{state}\"}}"]);
            }
        }
        Assert.Equal(8, Enumerable.Range(1, 3).Sum(g => measured[$"keypool.requests{{{g}}}"])); // 7 answered, one of them after a 401 on the revoked key
        Assert.Equal(1, measured[$"keypool.key.state{{{revoked},revoked}}"]);
        Assert.Equal(1, measured[$"keypool.upstream.errors{{{revoked},4xx}}"]);
        Assert.Equal(3, measured["keypool.keys{}"]);
        Assert.Equal(scraped["keypool_keys"], measured["keypool.keys{}"]);
        Assert.Equal(2, measured["keypool.keys.usable{}"]);
        Assert.Equal(scraped["keypool_keys_usable"], measured["keypool.keys.usable{}"]);
        Assert.Equal(6, Enumerable.Range(1, 3).Sum(g => measured[$"keypool.users{{{g}}}"])); // read by the scrapes before
    }

    [Fact]
    public void Bridge_SeriesOfAGroupNoLongerObserved_AreRemoved_OthersKept()
    {
        using var meter = new Meter("KeyPool.Tests.Bridge");
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var gauge = Prometheus.Metrics.WithCustomRegistry(registry).CreateGauge("test_rpm_used", "test", ["group"]);
        int[] groups = [1, 2];
        using var bridge = new PrometheusBridge(meter);
        bridge.Map(meter.CreateObservableGauge("test.rpm.used",
            () => groups.Select(g => new Measurement<long>(g * 10, new KeyValuePair<string, object?>("keypool.key_group", g)))), gauge, "keypool.key_group");

        bridge.Collect();
        Assert.Equal(["1", "2"], gauge.GetAllLabelValues().Select(l => l[0]).Order());
        Assert.Equal(20, gauge.WithLabels("2").Value);

        groups = [1];
        bridge.Collect();
        Assert.Equal(["1"], gauge.GetAllLabelValues().Select(l => l[0]));
        Assert.Equal(10, gauge.WithLabels("1").Value);
    }

    /// <summary>Every observable instrument of <paramref name="meter"/>, read once: "name{tag values in order}" to value.</summary>
    private static Dictionary<string, double> Listen(Meter meter)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.IsObservable)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = new List<string>();
            foreach (var tag in tags)
            {
                labels.Add(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "");
            }
            values[$"{instrument.Name}{{{string.Join(',', labels)}}}"] = value;
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }
}
