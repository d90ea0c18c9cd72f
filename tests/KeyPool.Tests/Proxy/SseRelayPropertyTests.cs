using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using CsCheck;
using KeyPool.Proxy;

namespace KeyPool.Tests.Proxy;

/// <summary>
/// Property-based tests of the SSE relay's usage reading and stripping (<see cref="SseRelay"/>): however the upstream's
/// stream is cut into reads, the usage is found, and the client gets the stream exactly, minus only the usage chunk
/// the gateway asked for on its behalf. Bounded iterations on one thread.
/// </summary>
public sealed class SseRelayPropertyTests
{
    private const long Iterations = 1_500;

    private static readonly Gen<string> Content = Gen.Frequency(
        (4, Gen.String[Gen.Char.AlphaNumeric, 0, 30]),
        (2, Gen.String[0, 30]),
        (1, Gen.Const("\"usage\":{\"total_tokens\":999}")),
        (1, Gen.Const("data: \n\n")));

    private static readonly Gen<GeneratedStream> Streams =
        Gen.Select(Content.List[0, 12], Gen.Long[0, 1_000_000], Gen.Long[0, 1_000_000], Gen.Bool, Gen.Bool, Gen.Bool)
            .Select((chunks, prompt, completion, crlf, usageOnLastContent, done) => new GeneratedStream(chunks, prompt, completion, crlf, usageOnLastContent, done));

    [Fact]
    public async Task UsageIsFound_AndOnlyTheUsageChunkIsStripped_HoweverTheStreamIsSplit()
    {
        await Gen.Select(Streams, Gen.Int[1, 64].Array[1, 40], Gen.Bool).SampleAsync(async (stream, splits, strip) =>
        {
            var (input, withoutUsageChunk) = stream.Render();

            var (output, state) = await RelayAsync(input, splits, strip);

            Assert.Equal(stream.Total, state.Usage?.Total);
            Assert.Equal(stream.Prompt, state.Usage?.Prompt);
            var expected = strip && stream.UsageHasOwnChunk ? withoutUsageChunk : input;
            Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(output));
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public async Task ArbitraryBytes_InAnySplits_NeverThrow_AndPassThroughUnchanged_WhenNothingIsStripped()
    {
        await Gen.Select(Gen.Byte.Array[0, 800], Gen.Int[1, 64].Array[1, 20]).SampleAsync(async (bytes, splits) =>
        {
            var (output, _) = await RelayAsync(bytes, splits, strip: false);

            Assert.Equal(bytes, output);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public async Task ArbitraryEventsWithUsageText_NeverThrow_WhenStripping()
    {
        var events = Gen.Frequency(
            (3, Gen.Byte.Array[0, 60].Select(b => "data: " + Encoding.Latin1.GetString(b))),
            (1, Gen.Const("data: {\"choices\":[],\"usage\":")),
            (1, Gen.Const("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1,\"total_tokens\":\"x\"}}")),
            (1, Gen.Const("data: {\"usage\":{\"prompt_tokens_details\":[[[[[]]]]]}}")));
        await Gen.Select(events.List[0, 10], Gen.Int[1, 32].Array[1, 20]).SampleAsync(async (list, splits) =>
        {
            var bytes = Encoding.Latin1.GetBytes(string.Concat(list.Select(e => e + "\n\n")));

            await RelayAsync(bytes, splits, strip: true);
        }, iter: Iterations, threads: 1);
    }

    private static async Task<(byte[] Output, SseRelay.State State)> RelayAsync(byte[] input, int[] splits, bool strip)
    {
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output, new StreamPipeWriterOptions(leaveOpen: true));
        var state = new SseRelay.State();
        await SseRelay.RelayEventsAsync(new SplitStream(input, splits), writer, strip, state, CancellationToken.None);
        await writer.CompleteAsync();
        return (output.ToArray(), state);
    }

    /// <summary>A chat stream as an upstream sends it: content chunks, then the usage (its own chunk or on the last content chunk), then [DONE].</summary>
    internal sealed record GeneratedStream(List<string> Chunks, long Prompt, long Completion, bool Crlf, bool UsageOnLastContent, bool Done)
    {
        public long Total => Prompt + Completion;

        public bool UsageHasOwnChunk => !UsageOnLastContent || Chunks.Count == 0;

        public (byte[] All, byte[] WithoutUsageChunk) Render()
        {
            var end = Crlf ? "\r\n\r\n" : "\n\n";
            var all = new StringBuilder();
            var without = new StringBuilder();
            var usage = $"\"usage\":{{\"prompt_tokens\":{Prompt},\"completion_tokens\":{Completion},\"total_tokens\":{Total}}}";
            for (var i = 0; i < Chunks.Count; i++)
            {
                var last = i == Chunks.Count - 1;
                var chunk = $"data: {{\"id\":\"c\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{JsonSerializer.Serialize(Chunks[i])}}}}}]{(last && UsageOnLastContent ? "," + usage : "")}}}{end}";
                all.Append(chunk);
                without.Append(chunk);
            }
            if (UsageHasOwnChunk)
            {
                all.Append($"data: {{\"id\":\"c\",\"choices\":[],{usage}}}{end}");
            }
            if (Done)
            {
                all.Append("data: [DONE]").Append(end);
                without.Append("data: [DONE]").Append(end);
            }
            return (Encoding.UTF8.GetBytes(all.ToString()), Encoding.UTF8.GetBytes(without.ToString()));
        }
    }

    /// <summary>Returns its bytes in reads of the given sizes, cycling through them.</summary>
    private sealed class SplitStream(byte[] data, int[] sizes) : Stream
    {
        private int _position;
        private int _read;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var size = Math.Min(Math.Min(sizes[_read++ % sizes.Length], buffer.Length), data.Length - _position);
            data.AsSpan(_position, size).CopyTo(buffer.Span);
            _position += size;
            return ValueTask.FromResult(size);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
