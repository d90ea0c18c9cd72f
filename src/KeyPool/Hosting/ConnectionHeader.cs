using System.Text;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace KeyPool.Hosting;

/// <summary>
/// The client's <c>Connection</c> header as it was sent. Kestrel (HTTP/1.1) replaces a list that holds exactly one of
/// <c>keep-alive</c>, <c>close</c> or <c>upgrade</c> with that one token (<c>keep-alive, User-Agent</c> reads as
/// <c>keep-alive</c>), so the headers a client marked hop-by-hop cannot be told from the request. The whole value passes
/// only through Kestrel's decoding of it: the decoder chosen for this one header keeps a copy in the connection's flow,
/// and <see cref="OnRequestAsync"/> hands it to the request just parsed. Other headers keep Kestrel's own decoding.
/// </summary>
internal static class ConnectionHeader
{
    private static readonly AsyncLocal<Seen?> Flow = new();
    private static readonly Encoding Recorder = new RecordingEncoding();

    /// <summary>For <c>KestrelServerOptions.RequestHeaderEncodingSelector</c>: null keeps Kestrel's default decoding.</summary>
    public static Encoding? Select(string name) =>
        ReferenceEquals(name, HeaderNames.Connection) || name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase) ? Recorder : null;

    /// <summary>Moves the values decoded for this request to it; a request whose header Kestrel reused has none, its visible value is whole.</summary>
    public static Task OnRequestAsync(HttpContext context, RequestDelegate next)
    {
        if (Flow.Value is { } seen)
        {
            seen.Current = seen.Parsed;
            seen.Parsed = default;
        }
        return next(context);
    }

    /// <summary>The request's <c>Connection</c> values as sent, or <paramref name="visible"/> when nothing else was seen.</summary>
    public static StringValues AsSent(StringValues visible) =>
        visible.Count > 0 && Flow.Value is { Current.Count: > 0 } seen ? seen.Current : visible;

    private static void Record(string value)
    {
        var seen = Flow.Value;
        if (seen is null)
        {
            Flow.Value = seen = new Seen();
        }
        seen.Parsed = StringValues.Concat(seen.Parsed, value);
    }

    /// <summary>One connection's: values decoded for the request being parsed, and those of the request being served.</summary>
    private sealed class Seen
    {
        public StringValues Parsed;
        public StringValues Current;
    }

    /// <summary>Strict UTF-8 (as Kestrel's default, which also refuses invalid bytes), keeping what it decodes.</summary>
    private sealed class RecordingEncoding : Encoding
    {
        private static readonly Encoding Strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        public override int GetByteCount(char[] chars, int index, int count) => Strict.GetByteCount(chars, index, count);

        public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) =>
            Strict.GetBytes(chars, charIndex, charCount, bytes, byteIndex);

        public override int GetCharCount(byte[] bytes, int index, int count) => Strict.GetCharCount(bytes, index, count);

        public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex)
        {
            var count = Strict.GetChars(bytes, byteIndex, byteCount, chars, charIndex);
            Record(new string(chars, charIndex, count));
            return count;
        }

        public override int GetMaxByteCount(int charCount) => Strict.GetMaxByteCount(charCount);

        public override int GetMaxCharCount(int byteCount) => Strict.GetMaxCharCount(byteCount);
    }
}
