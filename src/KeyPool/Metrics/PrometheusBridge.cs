using System.Diagnostics.Metrics;
using Prometheus;

namespace KeyPool.Metrics;

/// <summary>
/// Renders instruments of the "KeyPool" meter as Prometheus series with the names and labels <c>/metrics</c> has
/// always had: a listener hears the meter's measurements (histograms as they are recorded, observable instruments
/// when <see cref="Collect"/> asks at scrape time) and sets the matching prometheus-net child. The instrument is the
/// one place a figure is counted; the Prometheus series is only its rendering. A labelled series of an observable
/// instrument that a collection no longer reports (a key group that left the pool) is removed, not frozen.
/// </summary>
internal sealed class PrometheusBridge : IDisposable
{
    private readonly Meter _meter;
    private readonly MeterListener _listener;
    private readonly Dictionary<Instrument, Target> _targets = [];
    private readonly Lock _collect = new();

    public PrometheusBridge(Meter meter)
    {
        _meter = meter;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, _meter) && _targets.ContainsKey(instrument))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
    }

    /// <summary>Renders <paramref name="instrument"/> as <paramref name="collector"/>; its tags named in <paramref name="tags"/> give the labels, in order.</summary>
    public void Map(Instrument instrument, Collector collector, params string[] tags)
    {
        _targets[instrument] = new Target(collector, tags, instrument.IsObservable && tags.Length > 0);
        _listener.EnableMeasurementEvents(instrument);
        if (!_started)
        {
            _listener.Start();
            _started = true;
        }
    }

    private bool _started;

    /// <summary>Asks every observable instrument for its value now (before a scrape); drops the series none reported.</summary>
    public void Collect()
    {
        // One collection at a time: what a collection saw decides which series it removes.
        lock (_collect)
        {
            _listener.RecordObservableInstruments();
            foreach (var target in _targets.Values)
            {
                if (target.Pruned)
                {
                    target.Prune();
                }
            }
        }
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!_targets.TryGetValue(instrument, out var target))
        {
            return;
        }
        if (!target.Pruned && target.Tags.Length == 1 && tags.Length == 1 && tags[0].Key == target.Tags[0] && tags[0].Value is { } only)
        {
            // One label (a key group): its child is kept, so a measurement formats no label string.
            Set(target.Children.GetOrAdd(only, static (v, t) => Child(t.Collector, [Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? ""]), target), value);
            return;
        }
        var labels = target.Tags.Length == 0 ? [] : new string[target.Tags.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = "";
            foreach (var tag in tags)
            {
                if (tag.Key == target.Tags[i])
                {
                    labels[i] = Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
                    break;
                }
            }
        }
        if (target.Pruned)
        {
            target.Seen[string.Join('\u0001', labels)] = labels;
        }
        Set(Child(target.Collector, labels), value);
    }

    private static object Child(Collector collector, string[] labels) => collector switch
    {
        Counter counter => labels.Length == 0 ? counter : counter.WithLabels(labels),
        Gauge gauge => labels.Length == 0 ? gauge : gauge.WithLabels(labels),
        Histogram histogram => labels.Length == 0 ? histogram : histogram.WithLabels(labels),
        _ => throw new NotSupportedException(collector.GetType().Name),
    };

    private static void Set(object child, double value)
    {
        switch (child)
        {
            case ICounter counter:
                counter.IncTo(value);
                break;
            case IGauge gauge:
                gauge.Set(value);
                break;
            case IHistogram histogram:
                histogram.Observe(value);
                break;
        }
    }

    public void Dispose() => _listener.Dispose();

    // Pruned: labelled and observable, so series a collection no longer reports are removed after it.
    private sealed record Target(Collector Collector, string[] Tags, bool Pruned)
    {
        public System.Collections.Concurrent.ConcurrentDictionary<object, object> Children { get; } = new();

        /// <summary>Label sets reported by the collection in progress (observable callbacks run on the collecting thread).</summary>
        public Dictionary<string, string[]> Seen { get; private set; } = new(StringComparer.Ordinal);

        private Dictionary<string, string[]> _shown = new(StringComparer.Ordinal);

        public void Prune()
        {
            foreach (var (key, labels) in _shown)
            {
                if (!Seen.ContainsKey(key))
                {
                    switch (Collector)
                    {
                        case Counter counter:
                            counter.RemoveLabelled(labels);
                            break;
                        case Gauge gauge:
                            gauge.RemoveLabelled(labels);
                            break;
                    }
                }
            }
            (_shown, Seen) = (Seen, _shown);
            Seen.Clear();
        }
    }
}
