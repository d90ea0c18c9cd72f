namespace KeyPool.Core.Simulation;

/// <summary>The simulation's clock: time moves only when the simulation moves it, one second at a time.</summary>
internal sealed class SimulatedClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Volatile.Read(ref _ticks), TimeSpan.Zero);

    public override long GetTimestamp() => Volatile.Read(ref _ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Set(DateTimeOffset now) => Volatile.Write(ref _ticks, now.UtcTicks);
}
