using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KeyPool.Errors;
using Microsoft.AspNetCore.Connections;

namespace KeyPool.Hosting;

/// <summary>
/// Gives the answers Kestrel writes by itself, before any application code runs (headers too large, request line too
/// long, a malformed request), OpenAI's error body. Kestrel offers no hook for them: it writes the status line, an empty
/// body and <c>Connection: close</c> straight to the connection. So each plain-HTTP connection's output passes through
/// <see cref="Writer"/>, which looks only at the first bytes written after a flush (where a response head begins) and
/// swaps such an answer for the same head with a JSON body. Bodies never match: chunked data starts with its size,
/// JSON and event streams cannot hold a raw CR LF, and the match needs Kestrel's whole head in one write.
/// </summary>
internal static class KestrelRefusals
{
    public static void Use(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) =>
        listen.Use(next => connection =>
        {
            var transport = connection.Transport;
            connection.Transport = new Pipe(transport.Input, new Writer(transport.Output));
            return next(connection);
        });

    /// <summary>The replacement for a Kestrel answer that starts <paramref name="head"/>, or null to leave it.</summary>
    internal static byte[]? Replace(ReadOnlySpan<byte> head)
    {
        if (!head.StartsWith("HTTP/1.1 4"u8) || head.Length < 16)
        {
            return null;
        }
        var (code, message) = head[9..13] switch
        {
            var s when s.SequenceEqual("431 "u8) => ("request_headers_too_large", "The request headers are larger than the server accepts."),
            var s when s.SequenceEqual("414 "u8) => ("request_line_too_long", "The request line (method and path) is longer than the server accepts."),
            var s when s.SequenceEqual("400 "u8) => ("bad_request", "The request is not valid HTTP."),
            _ => (null, null),
        };
        var end = head.IndexOf("\r\n\r\n"u8);
        var emptyBody = head.IndexOf("\r\nContent-Length: 0\r\n"u8);
        if (code is null || end < 0 || end + 4 != head.Length || emptyBody < 0 || head.IndexOf("\r\nConnection: close\r\n"u8) < 0)
        {
            return null;
        }
        var body = OpenAiError.Serialize(message!, OpenAiError.InvalidRequest, code);
        var replaced = new byte[head.Length + 64 + body.Length];
        var length = 0;
        void Append(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(replaced.AsSpan(length));
            length += bytes.Length;
        }
        Append(head[..(emptyBody + 2)]);
        Append(Encoding.ASCII.GetBytes($"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n"));
        Append(head[(emptyBody + "\r\nContent-Length: 0\r\n".Length)..]);
        Append(body);
        return replaced[..length];
    }

    private sealed class Pipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Passes every call through; only the first advance after a flush is looked at.</summary>
    private sealed class Writer(PipeWriter inner) : PipeWriter
    {
        private Memory<byte> _handedOut;
        private bool _atHead = true;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _handedOut = inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => (_handedOut = inner.GetMemory(sizeHint)).Span;

        public override void Advance(int bytes)
        {
            if (_atHead && bytes > 0)
            {
                _atHead = false;
                if (bytes <= _handedOut.Length && Replace(_handedOut.Span[..bytes]) is { } replacement)
                {
                    inner.Write(replacement); // the handed-out bytes are never advanced: the replacement takes their place
                    return;
                }
            }
            inner.Advance(bytes);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            _atHead = true;
            return inner.FlushAsync(cancellationToken);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            _atHead = true; // written and flushed whole: what follows starts after a flush
            return inner.WriteAsync(source, cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
