namespace KeyPool.Emulator.Faults;

/// <summary>
/// Statuses to answer with, in order. Held as (count, status) runs so that
/// FailNext(1_000_000) costs one entry. Not thread-safe: the owner locks.
/// </summary>
internal sealed class FailureQueue
{
    private readonly Queue<Run> _runs = new();

    public bool IsEmpty => _runs.Count == 0;

    public void Add(int count, int status)
    {
        if (count > 0)
        {
            _runs.Enqueue(new Run(count, status));
        }
    }

    public bool TryTake(out int status)
    {
        if (!_runs.TryPeek(out var run))
        {
            status = 0;
            return false;
        }
        status = run.Status;
        if (--run.Remaining == 0)
        {
            _runs.Dequeue();
        }
        return true;
    }

    public void Clear() => _runs.Clear();

    private sealed class Run(int remaining, int status)
    {
        public int Remaining { get; set; } = remaining;

        public int Status { get; } = status;
    }
}
