using KeyPool.Core.Storage;

namespace KeyPool.Sqlite.Connections;

/// <summary>
/// Remembers that a write just found the file unusable (locked past the busy timeout, disk full, I/O error), so
/// sign-ups in the next few seconds fail at once instead of each waiting out the busy timeout in turn behind the
/// write lock. The usage flush keeps trying every second and ends the outage when a write succeeds.
/// </summary>
internal sealed class WriteOutage(TimeProvider time)
{
    // As long as the Retry-After the gateway gives a refused sign-up.
    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(5);

    private long _since = long.MinValue;

    public void ThrowIfRecent()
    {
        var since = Volatile.Read(ref _since);
        if (since != long.MinValue && time.GetElapsedTime(since) < Hold)
        {
            throw new StoreUnavailableException($"The SQLite database refused a write in the last {Hold.TotalSeconds:0} s (busy, locked or full); it is retried shortly.");
        }
    }

    public void Began() => Volatile.Write(ref _since, time.GetTimestamp());

    public void Ended() => Volatile.Write(ref _since, long.MinValue);
}
