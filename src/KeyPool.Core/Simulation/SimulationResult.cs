namespace KeyPool.Core.Simulation;

/// <summary>What one simulated run found.</summary>
/// <param name="Keys">Keys simulated.</param>
/// <param name="Seconds">Seconds simulated.</param>
/// <param name="Sessions">Sessions started.</param>
/// <param name="Requests">Requests sent (messages).</param>
/// <param name="Immediate">Admitted at once.</param>
/// <param name="Delayed">Admitted after waiting in KeyPool's queue.</param>
/// <param name="Refused">Refused with 429 after the longest allowed wait (or a full queue).</param>
/// <param name="Spills">Admitted to a key other than the user's own.</param>
/// <param name="WaitP50Seconds">Median queue wait of all requests (whole seconds).</param>
/// <param name="WaitP99Seconds">99th percentile queue wait (whole seconds).</param>
/// <param name="PeakRpmPerKey">Per key, the most requests admitted in one clock minute.</param>
/// <param name="PeakTpmPerKey">Per key, the most tokens admitted in one clock minute.</param>
/// <param name="OfferedPerMinute">Requests offered per clock minute of the run.</param>
/// <param name="LoadPerKey">Per key, per ten minutes, the average share of its RPM limit used (0–1).</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
public sealed record SimulationResult(
    int Keys,
    int Seconds,
    long Sessions,
    long Requests,
    long Immediate,
    long Delayed,
    long Refused,
    long Spills,
    int WaitP50Seconds,
    int WaitP99Seconds,
    int[] PeakRpmPerKey,
    long[] PeakTpmPerKey,
    int[] OfferedPerMinute,
    double[][] LoadPerKey,
    TimeSpan Elapsed)
{
    /// <summary>Refused requests as a share of all (0–1).</summary>
    public double RefusedRatio => Requests == 0 ? 0 : (double)Refused / Requests;

    /// <summary>Delayed requests as a share of all (0–1).</summary>
    public double DelayedRatio => Requests == 0 ? 0 : (double)Delayed / Requests;

    /// <summary>Admitted requests that stayed on the user's own key (0–1).</summary>
    public double StickyRatio => Immediate + Delayed == 0 ? 1 : 1 - ((double)Spills / (Immediate + Delayed));
}
