namespace KeyPool.Emulator.Recording;

/// <summary>Every request that reached a handler, in the order their outcome was decided.</summary>
internal sealed class ServedLog
{
    private readonly Lock _gate = new();
    private readonly List<ServedRequest> _entries = [];

    public void Add(ServedRequest entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }
    }

    public ServedRequest[] Snapshot()
    {
        lock (_gate)
        {
            return [.. _entries];
        }
    }

    public int CountSuccessful(string key, string path)
    {
        lock (_gate)
        {
            var count = 0;
            foreach (var e in _entries)
            {
                if (e.Status is >= 200 and < 300 && e.Reason is null && e.Key == key && e.Path == path)
                {
                    count++;
                }
            }
            return count;
        }
    }

    /// <summary>The entries so far, forgotten at once: nothing served in between is lost or counted twice.</summary>
    public ServedRequest[] Take()
    {
        lock (_gate)
        {
            ServedRequest[] taken = [.. _entries];
            _entries.Clear();
            return taken;
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
        }
    }
}
