using System.Collections.Concurrent;

namespace KeyPool.Proxy;

/// <summary>
/// Pooled cancellation sources that fire at a deadline (on the gateway's <see cref="TimeProvider"/>)
/// or when the client leaves. A linked source plus a timer per request adds up at thousands of
/// requests a second, so reset sources are reused. The pool is per instance: sources carry the
/// clock they were made with.
/// </summary>
internal sealed class DeadlineSources(TimeProvider time, IHostApplicationLifetime? lifetime = null)
{
    private readonly CancellationToken _stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
    private const int MaxPooled = 1024;
    private readonly ConcurrentQueue<Deadline> _pool = new();

    public Lease Rent(TimeSpan timeout, CancellationToken clientLeft)
    {
        var deadline = _pool.TryDequeue(out var pooled) ? pooled : new Deadline(new CancellationTokenSource(Timeout.InfiniteTimeSpan, time), _stopping);
        deadline.Source.CancelAfter(timeout);
        return new Lease(this, deadline, clientLeft.UnsafeRegister(static state => ((Deadline)state!).ClientLeft(), deadline));
    }

    private void Return(Deadline deadline)
    {
        // A source that fired cannot be reset; it is simply dropped.
        if (deadline.TryReset() && _pool.Count < MaxPooled)
        {
            _pool.Enqueue(deadline);
        }
        else
        {
            deadline.Source.Dispose();
        }
    }

    /// <summary>One request's deadline source, and what the client's leaving does to it.</summary>
    internal sealed class Deadline(CancellationTokenSource source, CancellationToken stopping)
    {
        private long _graceTicks;

        public CancellationTokenSource Source { get; } = source;

        /// <summary>
        /// From now on the client's leaving leaves the upstream <paramref name="grace"/> more (not beyond the deadline by
        /// more than that) instead of cancelling at once: a stream the upstream bills is read on to its usage.
        /// </summary>
        public void KeepReadingAfterClientLeaves(TimeSpan grace) => Volatile.Write(ref _graceTicks, grace.Ticks);

        internal void ClientLeft()
        {
            var grace = Volatile.Read(ref _graceTicks);
            if (grace == 0 || stopping.IsCancellationRequested) // a stopping gateway cuts at its drain deadline
            {
                Source.Cancel();
            }
            else
            {
                Source.CancelAfter(TimeSpan.FromTicks(grace));
            }
        }

        internal bool TryReset()
        {
            Volatile.Write(ref _graceTicks, 0);
            return Source.TryReset();
        }
    }

    /// <summary>One request's deadline; dispose to return it.</summary>
    public readonly struct Lease(DeadlineSources owner, Deadline deadline, CancellationTokenRegistration link) : IDisposable
    {
        public CancellationToken Token => deadline.Source.Token;

        public Deadline Deadline => deadline;

        public void Dispose()
        {
            link.Dispose();
            owner.Return(deadline);
        }
    }
}
