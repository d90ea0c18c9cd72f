using System.Buffers;

namespace KeyPool.Proxy;

/// <summary>Reads a whole stream into an <see cref="ArrayPool{T}"/> array that grows as needed; the caller returns it.</summary>
internal static class PooledRead
{
    /// <summary>
    /// Reads until the end, or until more than <paramref name="max"/> bytes arrived (then <c>TooLarge</c>).
    /// The buffer is rented in both cases; on an exception it is returned here.
    /// </summary>
    public static async Task<(byte[] Buffer, int Length, bool TooLarge)> ReadAsync(Stream stream, long sizeHint, long max, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(sizeHint, 1), max) + 1);
        var total = 0;
        try
        {
            while (true)
            {
                if (total == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, max + 1));
                    buffer.AsSpan(0, total).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, total, false);
                }
                total += read;
                if (total > max)
                {
                    return (buffer, total, true);
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
