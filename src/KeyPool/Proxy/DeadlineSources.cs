using System.Collections.Concurrent;

namespace KeyPool.Proxy;

/// <summary>
/// Pooled cancellation sources that fire at a deadline (on the gateway's <see cref="TimeProvider"/>)
/// or when the client leaves. A linked source plus a timer per request adds up at thousands of
/// requests a second, so reset sources are reused. The pool is per instance: sources carry the
/// clock they were made with.
/// </summary>
internal sealed class DeadlineSources(TimeProvider time)
{
    private const int MaxPooled = 1024;
    private readonly ConcurrentQueue<CancellationTokenSource> _pool = new();

    public Lease Rent(TimeSpan timeout, CancellationToken linked)
    {
        var source = _pool.TryDequeue(out var pooled) ? pooled : new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        source.CancelAfter(timeout);
        return new Lease(this, source, linked.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), source));
    }

    private void Return(CancellationTokenSource source)
    {
        // A source that fired cannot be reset; it is simply dropped.
        if (source.TryReset() && _pool.Count < MaxPooled)
        {
            _pool.Enqueue(source);
        }
        else
        {
            source.Dispose();
        }
    }

    /// <summary>One request's deadline; dispose to return it.</summary>
    public readonly struct Lease(DeadlineSources owner, CancellationTokenSource source, CancellationTokenRegistration link) : IDisposable
    {
        public CancellationToken Token => source.Token;

        public void Dispose()
        {
            link.Dispose();
            owner.Return(source);
        }
    }
}
