namespace KeyPool.RequestLog;

/// <summary>
/// The last requests of this instance, newest last, for the dashboard. A fixed ring: adding overwrites the oldest,
/// so memory stays bounded whatever the traffic.
/// </summary>
internal sealed class RecentRequests(int capacity)
{
    private readonly RequestLogEntry?[] _ring = new RequestLogEntry?[Math.Max(0, capacity)];
    private readonly Lock _gate = new();
    private long _added;

    public int Capacity => _ring.Length;

    public void Add(RequestLogEntry entry)
    {
        if (_ring.Length == 0)
        {
            return;
        }
        lock (_gate)
        {
            _ring[_added % _ring.Length] = entry;
            _added++;
        }
    }

    /// <summary>The kept requests, newest first.</summary>
    public IReadOnlyList<RequestLogEntry> Newest()
    {
        lock (_gate)
        {
            var count = (int)Math.Min(_added, _ring.Length);
            var result = new RequestLogEntry[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = _ring[(_added - 1 - i) % _ring.Length]!;
            }
            return result;
        }
    }
}
