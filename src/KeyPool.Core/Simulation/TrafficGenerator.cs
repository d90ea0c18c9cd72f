namespace KeyPool.Core.Simulation;

/// <summary>
/// Draws the day's traffic second by second from a <see cref="TrafficProfile"/>, seeded and so repeatable.
/// Users are aggregated into cohorts: a user's group is all routing ever asks of them (assignment spreads
/// users evenly and keeps them), so each session is drawn for a random group and no per-user state is
/// kept: 5,000,000 users cost what 5,000 do.
/// </summary>
public sealed class TrafficGenerator
{
    private readonly TrafficProfile _profile;
    private readonly int _groups;
    private readonly Random _random;
    private readonly bool _even;
    private readonly double _geometric; // ln(1 - p) for messages per session
    private readonly double _mu;
    private double _cumulative;

    /// <summary>Creates a generator over <paramref name="groups"/> key groups.</summary>
    /// <param name="profile">The traffic.</param>
    /// <param name="groups">Key groups users are spread over.</param>
    /// <param name="seed">Random seed.</param>
    /// <param name="evenArrivals">True: session starts spread evenly (the expected count, no randomness in the count); false: Poisson.</param>
    public TrafficGenerator(TrafficProfile profile, int groups, int seed, bool evenArrivals = false)
    {
        _profile = profile ?? throw new ArgumentNullException(nameof(profile));
        _groups = Math.Max(1, groups);
        _random = new Random(seed);
        _even = evenArrivals;
        var p = 1 / Math.Max(1, profile.MessagesPerSession);
        _geometric = p >= 1 ? 0 : Math.Log(1 - p);
        _mu = Math.Log(profile.TokensPerMessage) - (profile.TokensSigma * profile.TokensSigma / 2);
    }

    /// <summary>The sessions starting in <paramref name="second"/> of the day, added to <paramref name="sessions"/>.</summary>
    public void SessionsAt(int second, List<Session> sessions)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        var rate = _profile.SessionRate(second);
        int count;
        if (_even)
        {
            var before = (long)Math.Floor(_cumulative + 1e-9);
            _cumulative += rate;
            count = (int)((long)Math.Floor(_cumulative + 1e-9) - before);
        }
        else
        {
            count = Poisson(rate);
        }
        for (var i = 0; i < count; i++)
        {
            sessions.Add(new Session(_random.Next(_groups) + 1, Messages()));
        }
    }

    /// <summary>Tokens one message costs.</summary>
    public int Tokens() => _profile.TokensSigma == 0
        ? (int)Math.Max(1, Math.Round(_profile.TokensPerMessage))
        : (int)Math.Clamp(Math.Exp(_mu + (_profile.TokensSigma * Normal())), 1, 10_000_000);

    /// <summary>Seconds until the session's next message (at least 1).</summary>
    public int ThinkSeconds() => (int)Math.Clamp(Math.Ceiling(-Math.Log(1 - _random.NextDouble()) * _profile.ThinkSeconds), 1, MaxThinkSeconds);

    /// <summary>The longest think time drawn; longer draws are cut to it.</summary>
    public const int MaxThinkSeconds = 3_600;

    private int Messages() => _geometric == 0 ? 1 : 1 + (int)Math.Min(10_000, Math.Floor(Math.Log(1 - _random.NextDouble()) / _geometric));

    private int Poisson(double rate)
    {
        if (rate <= 0)
        {
            return 0;
        }
        if (rate > 30)
        {
            return (int)Math.Max(0, Math.Round(rate + (Math.Sqrt(rate) * Normal()))); // normal approximation, exact enough above 30
        }
        var limit = Math.Exp(-rate);
        var product = _random.NextDouble();
        var count = 0;
        while (product > limit)
        {
            product *= _random.NextDouble();
            count++;
        }
        return count;
    }

    private double Normal()
    {
        var u1 = 1 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}

/// <summary>A session starting: its user's group and how many messages it sends.</summary>
public readonly record struct Session(int Group, int Messages);
