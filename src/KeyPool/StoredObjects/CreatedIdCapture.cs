using System.Buffers;
using System.Text.Json;

namespace KeyPool.StoredObjects;

/// <summary>
/// Passes a successful answer through to the client unchanged and reads, on the way, the id of the object it created:
/// the top-level <c>id</c> of a response (or <c>request_id</c> of a deferred request), or in a stream the
/// <c>response.id</c> of its first event (<c>response.created</c>). It wraps the client's body for these requests
/// only, whichever relay writes the answer, and looks at the answer's first <see cref="Window"/> bytes at most.
/// </summary>
internal sealed class CreatedIdCapture(Stream inner, HttpResponse response) : Stream
{
    /// <summary>How far into an answer the id is looked for (it comes first in both shapes).</summary>
    public const int Window = 64 * 1024;

    private byte[]? _buffer;
    private int _length;
    private int _scanned; // SSE: bytes of whole lines already looked at
    private bool _done;

    /// <summary>The id read, or null.</summary>
    public string? Id { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Look(buffer);
        inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Look(buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Release();
        base.Dispose(disposing);
    }

    /// <summary>Returns the look-ahead buffer; the id stays.</summary>
    public void Release()
    {
        _done = true;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Look(ReadOnlySpan<byte> data)
    {
        if (_done || data.IsEmpty)
        {
            return;
        }
        if (response.StatusCode is < 200 or >= 300)
        {
            Release(); // an error answer creates nothing
            return;
        }
        _buffer ??= ArrayPool<byte>.Shared.Rent(Window);
        var take = Math.Min(data.Length, Window - _length);
        data[..take].CopyTo(_buffer.AsSpan(_length));
        _length += take;
        var stream = response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
        Id = stream ? FromEvents() : TryReadId(_buffer.AsSpan(0, _length));
        if (Id is not null || _length >= Window)
        {
            Release();
        }
    }

    private string? FromEvents()
    {
        var window = _buffer.AsSpan(0, _length);
        while (window[_scanned..].IndexOf((byte)'\n') is var end and >= 0)
        {
            var line = window.Slice(_scanned, end).TrimEnd((byte)'\r');
            _scanned += end + 1;
            if (line.StartsWith("data:"u8) && TryReadId(line[5..].TrimStart((byte)' ')) is { } id)
            {
                return id;
            }
        }
        return null;
    }

    /// <summary>
    /// The top-level <c>id</c> or <c>request_id</c> of <paramref name="json"/>, or its <c>response</c> object's <c>id</c>;
    /// null when absent (or past the part given: a prefix of a document is read as far as it goes).
    /// </summary>
    internal static string? TryReadId(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = 512 }));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            var inResponse = false;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 1)
                {
                    inResponse = false;
                }
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }
                var depth = reader.CurrentDepth;
                var isId = (depth == 1 && (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("request_id"u8))) || (depth == 2 && inResponse && reader.ValueTextEquals("id"u8));
                var isResponse = depth == 1 && reader.ValueTextEquals("response"u8);
                if (!reader.Read())
                {
                    return null;
                }
                if (isId && reader.TokenType == JsonTokenType.String)
                {
                    return reader.GetString() is { Length: > 0 } id ? id : null;
                }
                inResponse |= isResponse && reader.TokenType == JsonTokenType.StartObject;
                if (depth >= 1 && !(isResponse && inResponse) && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
                {
                    return null; // the rest of this value is past the part given
                }
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Not JSON (or not text): nothing to read.
        }
        return null;
    }
}
