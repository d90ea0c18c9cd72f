using System.Buffers;
using System.Numerics;

namespace KeyPool.Proxy;

/// <summary>
/// The bytes of request bodies held in memory, over all requests, against one budget. Small buffers come from the
/// shared array pool; large ones are plain arrays that the collector takes back once the request ends, so a burst of
/// large bodies leaves no pooled giant arrays behind (the shared pool keeps arrays up to 1 GB for good).
/// </summary>
internal sealed class BodyMemory : IDisposable
{
    /// <summary>Larger buffers are not pooled.</summary>
    internal const int MaxPooled = 1024 * 1024;

    /// <summary>Large buffers given back between two full collections.</summary>
    private const long CollectAfter = 64 * 1024 * 1024;

    /// <summary>At most one full collection in this many milliseconds: it stops every thread while it runs.</summary>
    private const long CollectEvery = 1000;

    private readonly long _budget;
    private readonly Timer _collector;
    private long _held;
    private long _released;
    private long _lastCollect = long.MinValue / 2;
    private int _due;

    public BodyMemory(long budget)
    {
        _budget = budget;
        _collector = new Timer(static memory => ((BodyMemory)memory!).Collect(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Bytes held now.</summary>
    public long Held => Volatile.Read(ref _held);

    /// <summary>A buffer of at least <paramref name="length"/> bytes, or null when the budget has no room for it.</summary>
    public byte[]? TryRent(int length)
    {
        var size = length <= MaxPooled ? (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, length)) : length;
        if (Interlocked.Add(ref _held, size) > _budget)
        {
            Interlocked.Add(ref _held, -size);
            return null;
        }
        return length <= MaxPooled ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
    }

    // A collection asked for within a second of the last one is put off to the end of that second, not dropped: the
    // large buffers of many connections closing at once are given back within milliseconds, after the first
    // collection has already run, and would otherwise stay garbage until the collector happens to run a full one.
    private void ScheduleCollect()
    {
        if (Interlocked.Exchange(ref _due, 1) == 1)
        {
            return; // the collection already due takes this garbage too
        }
        var wait = Volatile.Read(ref _lastCollect) + CollectEvery - Environment.TickCount64;
        _collector.Change(Math.Clamp(wait, 0, CollectEvery), Timeout.Infinite);
    }

    private void Collect()
    {
        Volatile.Write(ref _due, 0); // what is given back from here on asks for the next one
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Volatile.Write(ref _lastCollect, Environment.TickCount64);
    }

    /// <summary>Gives back a buffer from <see cref="TryRent"/>.</summary>
    public void Return(byte[] buffer)
    {
        var size = buffer.Length;
        if (size <= MaxPooled)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else if (Interlocked.Add(ref _released, size) >= CollectAfter)
        {
            // Large arrays live in the large-object heap, collected only by a full collection, which a quiet gateway
            // may not run for hours, and an ordinary one keeps the freed memory: after this much of them is garbage, an
            // aggressive one (off the request, on a timer, at most one a second) gives it back to the system.
            Interlocked.Exchange(ref _released, 0);
            ScheduleCollect();
        }
        Interlocked.Add(ref _held, -size);
    }

    public void Dispose() => _collector.Dispose();
}
