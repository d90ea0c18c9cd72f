namespace KeyPool.Core.Simulation;

/// <summary>
/// How the app's users behave over a day (<c>keypool simulate</c> flags or its <c>--profile</c> JSON file).
/// Sessions start as a Poisson process shaped by <see cref="HourlyCurve"/> and an optional spike; each
/// session sends a number of messages, spaced by a think time, each costing a number of tokens.
/// </summary>
public sealed class TrafficProfile
{
    /// <summary>Users active on the day.</summary>
    public long Users { get; set; } = 5_000_000;

    /// <summary>Sessions per user per day, on average (Poisson). Default 1.</summary>
    public double SessionsPerUserPerDay { get; set; } = 1;

    /// <summary>Messages per session, on average (geometric, at least 1). Default 5.</summary>
    public double MessagesPerSession { get; set; } = 5;

    /// <summary>Seconds between a session's messages, on average (exponential, at least 1). Default 40.</summary>
    public double ThinkSeconds { get; set; } = 40;

    /// <summary>Tokens per message (prompt + completion + reasoning), on average (log-normal). Default 1,500.</summary>
    public double TokensPerMessage { get; set; } = 1_500;

    /// <summary>Spread of tokens per message: the log-normal's sigma (0 = every message costs the average). Default 0.8.</summary>
    public double TokensSigma { get; set; } = 0.8;

    /// <summary>
    /// Relative session starts per hour of the day (24 values, UTC hours; scaled so they average 1). Default: a
    /// consumer app's day, quiet at night, peak in the evening (peak/mean ≈ 1.7).
    /// </summary>
    public double[] HourlyCurve { get; set; } = [0.35, 0.25, 0.2, 0.2, 0.25, 0.35, 0.55, 0.8, 1.0, 1.1, 1.15, 1.2, 1.25, 1.2, 1.15, 1.15, 1.2, 1.3, 1.45, 1.6, 1.7, 1.6, 1.2, 0.7];

    /// <summary>A viral spike: session starts multiplied by this from <see cref="SpikeStartHour"/> for <see cref="SpikeHours"/>. 1 = none.</summary>
    public double SpikeMultiplier { get; set; } = 1;

    /// <summary>Hour of the day (0–23.99) the spike starts.</summary>
    public double SpikeStartHour { get; set; } = 19;

    /// <summary>How long the spike lasts, in hours.</summary>
    public double SpikeHours { get; set; } = 2;

    /// <summary>Every problem with the profile, each a sentence naming the setting; empty when it is valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Users < 1)
        {
            problems.Add($"users must be at least 1, not {Users}.");
        }
        if (SessionsPerUserPerDay <= 0 || double.IsNaN(SessionsPerUserPerDay))
        {
            problems.Add($"sessionsPerUserPerDay must be above 0, not {SessionsPerUserPerDay}.");
        }
        if (MessagesPerSession < 1 || double.IsNaN(MessagesPerSession))
        {
            problems.Add($"messagesPerSession must be at least 1, not {MessagesPerSession}.");
        }
        if (ThinkSeconds < 1 || ThinkSeconds > 3600 || double.IsNaN(ThinkSeconds))
        {
            problems.Add($"thinkSeconds must be from 1 to 3600, not {ThinkSeconds}.");
        }
        if (TokensPerMessage < 1 || double.IsNaN(TokensPerMessage))
        {
            problems.Add($"tokensPerMessage must be at least 1, not {TokensPerMessage}.");
        }
        if (TokensSigma < 0 || TokensSigma > 3 || double.IsNaN(TokensSigma))
        {
            problems.Add($"tokensSigma must be from 0 to 3, not {TokensSigma}.");
        }
        if (HourlyCurve is not { Length: 24 } || HourlyCurve.Any(w => w < 0 || double.IsNaN(w)) || HourlyCurve.Sum() <= 0)
        {
            problems.Add("hourlyCurve must have 24 weights, none negative, not all 0.");
        }
        if (SpikeMultiplier < 1 || double.IsNaN(SpikeMultiplier))
        {
            problems.Add($"spikeMultiplier must be at least 1 (1 = no spike), not {SpikeMultiplier}.");
        }
        if (SpikeStartHour is < 0 or >= 24 || SpikeHours is < 0 or > 24)
        {
            problems.Add($"spikeStartHour must be from 0 to 24 and spikeHours from 0 to 24, not {SpikeStartHour} and {SpikeHours}.");
        }
        return problems;
    }

    /// <summary>Expected session starts in second <paramref name="second"/> of the day (0–86,399).</summary>
    public double SessionRate(int second)
    {
        var mean = HourlyCurve.Average();
        var weight = HourlyCurve[second / 3600 % 24] / mean;
        var hour = second / 3600.0;
        if (SpikeMultiplier > 1 && hour >= SpikeStartHour && hour < SpikeStartHour + SpikeHours)
        {
            weight *= SpikeMultiplier;
        }
        return Users * SessionsPerUserPerDay / 86_400 * weight;
    }
}
