using System.Buffers;
using System.Numerics;

namespace KeyPool.Proxy;

/// <summary>
/// The bytes of request bodies held in memory, over all requests, against one budget. Small buffers come from the
/// shared array pool; large ones are plain arrays that the collector takes back once the request ends, so a burst of
/// large bodies leaves no pooled giant arrays behind (the shared pool keeps arrays up to 1 GB for good).
/// </summary>
internal sealed class BodyMemory(long budget)
{
    /// <summary>Larger buffers are not pooled.</summary>
    internal const int MaxPooled = 1024 * 1024;

    /// <summary>Large buffers given back between two full collections.</summary>
    private const long CollectAfter = 64 * 1024 * 1024;

    private long _held;
    private long _released;
    private long _lastCollect = long.MinValue / 2;

    /// <summary>Bytes held now.</summary>
    public long Held => Volatile.Read(ref _held);

    /// <summary>A buffer of at least <paramref name="length"/> bytes, or null when the budget has no room for it.</summary>
    public byte[]? TryRent(int length)
    {
        var size = length <= MaxPooled ? (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, length)) : length;
        if (Interlocked.Add(ref _held, size) > budget)
        {
            Interlocked.Add(ref _held, -size);
            return null;
        }
        return length <= MaxPooled ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
    }

    private void Collect()
    {
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastCollect);
        if (now - last < 1000 || Interlocked.CompareExchange(ref _lastCollect, now, last) != last)
        {
            return;
        }
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
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
            // aggressive one (off the request, at most one a second) gives it back to the system.
            Interlocked.Exchange(ref _released, 0);
            ThreadPool.UnsafeQueueUserWorkItem(static memory => memory.Collect(), this, preferLocal: false);
        }
        Interlocked.Add(ref _held, -size);
    }
}
