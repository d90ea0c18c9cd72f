using System.Diagnostics.Metrics;

namespace KeyPool.Metrics;

/// <summary>
/// The "KeyPool" meter (System.Diagnostics.Metrics): what <c>dotnet-counters monitor --counters KeyPool</c> and the
/// OTLP exporter read, and what <c>/metrics</c> renders through <see cref="PrometheusBridge"/>. Created through the
/// app's <see cref="IMeterFactory"/>, so two gateways in one process (tests) keep their own instruments.
/// </summary>
internal sealed class KeyPoolMeter(IMeterFactory factory)
{
    public const string Name = "KeyPool";

    public Meter Meter { get; } = factory.Create(Name);
}
