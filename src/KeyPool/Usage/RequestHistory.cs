namespace KeyPool.Usage;

/// <summary>
/// Requests per key group per minute over the last hour, for the dashboard's chart. Fed with the
/// groups' running request totals (<see cref="Sample"/>); each sample adds what changed since the
/// previous one to the current minute. Memory is fixed: 60 slots per group, groups are keys.
/// </summary>
internal sealed class RequestHistory
{
    /// <summary>How many minutes are kept (the current one included).</summary>
    public const int Minutes = 60;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, Series> _groups = [];

    /// <summary>
    /// Adds the growth of each group's total since the last sample to the minute of <paramref name="now"/>.
    /// The first sight of a group only sets its baseline: totals loaded from the store are history
    /// from before this process, not traffic of this minute.
    /// </summary>
    public void Sample(DateTimeOffset now, IEnumerable<(int Group, long TotalRequests)> totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        var minute = now.ToUnixTimeSeconds() / 60;
        lock (_lock)
        {
            foreach (var (group, total) in totals)
            {
                if (!_groups.TryGetValue(group, out var series))
                {
                    _groups[group] = new Series(total);
                    continue;
                }
                // A total never shrinks; if it did (a reset), start again from it rather than count negative.
                var delta = Math.Max(0, total - series.LastTotal);
                series.LastTotal = total;
                if (delta > 0)
                {
                    series.Add(minute, delta);
                }
            }
        }
    }

    /// <summary>The last <see cref="Minutes"/> minutes up to the one of <paramref name="now"/>, oldest first, one row per group.</summary>
    public HistorySnapshot Read(DateTimeOffset now)
    {
        var current = now.ToUnixTimeSeconds() / 60;
        var first = current - Minutes + 1;
        var starts = new DateTimeOffset[Minutes];
        for (var i = 0; i < Minutes; i++)
        {
            starts[i] = DateTimeOffset.FromUnixTimeSeconds((first + i) * 60);
        }
        lock (_lock)
        {
            var rows = _groups.OrderBy(g => g.Key)
                .Select(g => new GroupHistory(g.Key, g.Value.Counts(first)))
                .ToArray();
            return new HistorySnapshot(starts, rows);
        }
    }

    private sealed class Series(long baseline)
    {
        // Slot = minute % Minutes; a slot stamped with an older minute is stale and reads as zero.
        private readonly long[] _minutes = new long[Minutes];
        private readonly long[] _counts = new long[Minutes];

        public long LastTotal = baseline;

        public void Add(long minute, long count)
        {
            var slot = (int)(minute % Minutes);
            if (_minutes[slot] != minute)
            {
                _minutes[slot] = minute;
                _counts[slot] = 0;
            }
            _counts[slot] += count;
        }

        public long[] Counts(long firstMinute)
        {
            var counts = new long[Minutes];
            for (var i = 0; i < Minutes; i++)
            {
                var minute = firstMinute + i;
                var slot = (int)(minute % Minutes);
                counts[i] = _minutes[slot] == minute ? _counts[slot] : 0;
            }
            return counts;
        }
    }
}

/// <summary>Per-minute request counts: <see cref="MinuteStarts"/>[i] is the start of column i of every row.</summary>
internal sealed record HistorySnapshot(IReadOnlyList<DateTimeOffset> MinuteStarts, IReadOnlyList<GroupHistory> Groups);

/// <summary>One key group's requests per minute, oldest first.</summary>
internal sealed record GroupHistory(int Group, IReadOnlyList<long> Requests);
