using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Requests;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Simulation;

/// <summary>
/// A discrete-event simulation of a day, one-second steps, running KeyPool's own routing
/// (<see cref="KeyPoolRouter"/>, the configured <see cref="IKeySelectionPolicy"/>, <see cref="PoolSnapshot"/>,
/// <see cref="RateWindow"/>) on a simulated clock against keys with the upstream's limits. Requests that
/// find no key wait in a queue up to <see cref="PoolModel.MaxQueueWaitSeconds"/>, as in the gateway, then
/// are refused; clients do not retry. Each admitted request costs exactly its tokens.
/// </summary>
public static class PoolSimulator
{
    private const int MinutesPerBucket = 10;
    private const int MaxQueueLength = 1_000; // KeyPool:Routing:MaxQueueLength's default
    private static readonly DateTimeOffset Midnight = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Runs <paramref name="seconds"/> of <paramref name="traffic"/> against <paramref name="pool"/>.</summary>
    /// <param name="pool">Keys and routing.</param>
    /// <param name="traffic">The users' behaviour.</param>
    /// <param name="seconds">Seconds to simulate from midnight (a day is 86,400).</param>
    /// <param name="seed">Random seed: the same seed gives the same run.</param>
    /// <param name="evenArrivals">Spread session starts evenly instead of drawing them (for exact answers).</param>
    /// <param name="progress">Told the share done (0–1) now and then.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    public static SimulationResult Run(
        PoolModel pool, TrafficProfile traffic, int seconds = 86_400, int seed = 1, bool evenArrivals = false,
        IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(traffic);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var keys = pool.Keys;
        var clock = new SimulatedClock(Midnight);
        var routing = new RoutingOptions { Policy = pool.Policy, MaxQueueWait = TimeSpan.FromSeconds(pool.MaxQueueWaitSeconds) };
        var ring = new KeyRing(Enumerable.Range(1, keys).Select(g => new UpstreamKey(g, $"sim-key-{g:D6}")));
        var budgets = new BudgetOptions { RequestsPerMinute = pool.RequestsPerMinute, TokensPerMinute = pool.TokensPerMinute, BurstSeconds = pool.BurstSeconds };
        var router = new KeyPoolRouter(ring, KeySelectionPolicies.Create(pool.Policy, routing, new Random(seed))!, routing, budgets,
            new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), clock);
        var model = router.Pool.ModelId("simulated");
        var generator = new TrafficGenerator(traffic, keys, seed, evenArrivals);

        var minutes = (seconds + 59) / 60;
        var requestsPerMinute = new int[keys, minutes];
        var tokensPerMinute = new long[keys, minutes];
        var offered = new int[minutes];
        var waits = new long[pool.MaxQueueWaitSeconds + 1];
        long sessions = 0, requests = 0, immediate = 0, delayed = 0, refused = 0, spills = 0;

        // Future messages by the second they are sent (think times are bounded, so a ring suffices).
        var future = new List<Message>[TrafficGenerator.MaxThinkSeconds + 2];
        for (var i = 0; i < future.Length; i++)
        {
            future[i] = [];
        }
        var waiting = new Queue<Message>();
        var stillWaiting = new Queue<Message>();
        var starting = new List<Session>();
        var step = Math.Max(1, seconds / 200);

        // Within one second budgets only fill (they free at second boundaries, and every request here costs exactly
        // what it reserved), so once a request of N tokens found no key, any request of N or more tokens this second
        // would not either: it is refused without asking the router. Exact, and it keeps overloaded days fast.
        var failedSecond = -1;
        var failedTokens = int.MaxValue;

        for (var t = 0; t < seconds; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            clock.Set(Midnight.AddSeconds(t));
            var minute = t / 60;

            // Those already waiting go first (FIFO), as the gateway's waiters wake at the second's start.
            while (waiting.TryDequeue(out var message))
            {
                if (!TryServe(message, t))
                {
                    if (t - message.Arrived >= pool.MaxQueueWaitSeconds)
                    {
                        refused++;
                        waits[^1]++;
                        Continue(message, t);
                    }
                    else
                    {
                        stillWaiting.Enqueue(message);
                    }
                }
            }
            (waiting, stillWaiting) = (stillWaiting, waiting);

            var due = future[t % future.Length];
            starting.Clear();
            generator.SessionsAt(t, starting);
            sessions += starting.Count;
            foreach (var session in starting)
            {
                due.Add(new Message(session.Group, generator.Tokens(), session.Messages - 1, t));
            }
            foreach (var message in due)
            {
                requests++;
                offered[minute]++;
                var arrived = message with { Arrived = t };
                if (TryServe(arrived, t))
                {
                    continue;
                }
                if (pool.MaxQueueWaitSeconds > 0 && waiting.Count < MaxQueueLength)
                {
                    waiting.Enqueue(arrived);
                }
                else
                {
                    refused++;
                    waits[^1]++;
                    Continue(arrived, t);
                }
            }
            due.Clear();
            if (t % step == 0)
            {
                progress?.Report((double)t / seconds);
            }
        }
        refused += waiting.Count; // the day ended while they waited
        progress?.Report(1);

        var peakRpm = new int[keys];
        var peakTpm = new long[keys];
        var buckets = (minutes + MinutesPerBucket - 1) / MinutesPerBucket;
        var load = new double[keys][];
        for (var k = 0; k < keys; k++)
        {
            load[k] = new double[buckets];
            for (var m = 0; m < minutes; m++)
            {
                peakRpm[k] = Math.Max(peakRpm[k], requestsPerMinute[k, m]);
                peakTpm[k] = Math.Max(peakTpm[k], tokensPerMinute[k, m]);
                load[k][m / MinutesPerBucket] += (double)requestsPerMinute[k, m] / pool.RequestsPerMinute;
            }
            for (var b = 0; b < buckets; b++)
            {
                load[k][b] /= Math.Min(MinutesPerBucket, minutes - (b * MinutesPerBucket));
            }
        }
        var (p50, p99) = Percentiles(waits, requests);
        return new SimulationResult(keys, seconds, sessions, requests, immediate, delayed, refused, spills, p50, p99,
            peakRpm, peakTpm, offered, load, System.Diagnostics.Stopwatch.GetElapsedTime(started));

        bool TryServe(Message message, int now)
        {
            if (now == failedSecond && message.Tokens >= failedTokens)
            {
                return false;
            }
            if (router.TryAdmit(message.Group, model, message.Tokens) is not { } admission)
            {
                failedTokens = now == failedSecond ? Math.Min(failedTokens, message.Tokens) : message.Tokens;
                failedSecond = now;
                return false;
            }
            var budget = new RequestBudget(); // the gateway's settle: served in full, costing its tokens
            budget.Admit(admission);
            budget.EndAttempt(new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: message.Tokens), router.Second);
            budget.Settle();
            var key = admission.Member.Group - 1;
            requestsPerMinute[key, now / 60]++;
            tokensPerMinute[key, now / 60] += message.Tokens;
            var wait = now - message.Arrived;
            waits[Math.Min(wait, waits.Length - 1)]++;
            if (wait == 0)
            {
                immediate++;
            }
            else
            {
                delayed++;
            }
            if (admission.Reason != RouteReason.Sticky)
            {
                spills++;
            }
            Continue(message, now);
            return true;
        }

        void Continue(Message message, int now)
        {
            if (message.Remaining > 0)
            {
                var next = now + generator.ThinkSeconds();
                if (next < seconds)
                {
                    future[next % future.Length].Add(new Message(message.Group, generator.Tokens(), message.Remaining - 1, next));
                }
            }
        }
    }

    /// <summary>
    /// The smallest key count whose refusals stay at or under <paramref name="targetRefused"/> (0–1), by
    /// bisection over whole runs of the same traffic (same seed); null when even <paramref name="maxKeys"/> refuse more.
    /// </summary>
    public static (int Keys, SimulationResult Result)? SmallestKeyCount(
        PoolModel pool, TrafficProfile traffic, double targetRefused, int seconds = 86_400, int seed = 1, int maxKeys = 10_000,
        Action<int>? trying = null, IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(traffic);
        (int Keys, SimulationResult Result)? best = null;
        SimulationResult Try(int keys)
        {
            trying?.Invoke(keys);
            var model = Copy(pool, keys);
            return Run(model, traffic, seconds, seed, false, progress, cancellationToken);
        }

        // Start from the mean load (a floor: the pool must at least carry the day's average), then double.
        var meanPerMinute = traffic.Users * traffic.SessionsPerUserPerDay * traffic.MessagesPerSession / 1440.0;
        var low = (int)Math.Clamp(Math.Floor(meanPerMinute / pool.RequestsPerMinute), 1, maxKeys);
        var lowResult = Try(low);
        if (lowResult.RefusedRatio <= targetRefused)
        {
            return (low, lowResult); // the floor already does (refusals can only grow with fewer keys than the mean needs)
        }
        var high = low;
        while (true)
        {
            if (high >= maxKeys)
            {
                return null;
            }
            high = Math.Min(maxKeys, high * 2);
            var result = Try(high);
            if (result.RefusedRatio <= targetRefused)
            {
                best = (high, result);
                break;
            }
            low = high;
        }
        while (high - low > 1)
        {
            var middle = low + ((high - low) / 2);
            var result = Try(middle);
            if (result.RefusedRatio <= targetRefused)
            {
                high = middle;
                best = (middle, result);
            }
            else
            {
                low = middle;
            }
        }
        return best;
    }

    private static PoolModel Copy(PoolModel pool, int keys) => new()
    {
        Keys = keys,
        RequestsPerMinute = pool.RequestsPerMinute,
        TokensPerMinute = pool.TokensPerMinute,
        BurstSeconds = pool.BurstSeconds,
        MaxQueueWaitSeconds = pool.MaxQueueWaitSeconds,
        Policy = pool.Policy,
    };

    private static (int P50, int P99) Percentiles(long[] waits, long total)
    {
        if (total == 0)
        {
            return (0, 0);
        }
        int p50 = -1, p99 = -1;
        long seen = 0;
        for (var w = 0; w < waits.Length; w++)
        {
            seen += waits[w];
            if (p50 < 0 && seen >= 0.5 * total)
            {
                p50 = w;
            }
            if (p99 < 0 && seen >= 0.99 * total)
            {
                p99 = w;
                break;
            }
        }
        return (Math.Max(0, p50), p99 < 0 ? waits.Length - 1 : p99);
    }

    private readonly record struct Message(int Group, int Tokens, int Remaining, int Arrived);
}
