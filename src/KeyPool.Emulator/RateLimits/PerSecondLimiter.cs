using System.Collections.Concurrent;

namespace KeyPool.Emulator.RateLimits;

/// <summary>
/// An optional window finer than the minute (<see cref="EmulatorOptions.RequestsPerSecond"/>): at most N
/// requests of a (team, model) in any second. Some upstreams enforce one; the gateway must notice it from
/// 429s that arrive while the minute's <c>remaining</c> still shows room.
/// </summary>
internal sealed class PerSecondLimiter(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<(string Team, string Model), Queue<long>> _windows = new();

    public bool TryAdmit(string team, string model, int limit)
    {
        var queue = _windows.GetOrAdd((team, model), static _ => new Queue<long>());
        var now = timeProvider.GetTimestamp();
        var second = timeProvider.TimestampFrequency;
        lock (queue)
        {
            while (queue.TryPeek(out var oldest) && now - oldest >= second)
            {
                queue.Dequeue();
            }
            if (queue.Count >= limit)
            {
                return false;
            }
            queue.Enqueue(now);
            return true;
        }
    }
}
