using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;

namespace KeyPool.Emulator.Completions;

/// <summary>Writes <c>data: …\n\n</c> events straight into the response pipe, flushing each one.</summary>
internal sealed class ServerSentEvents(PipeWriter pipe) : IDisposable
{
    private static readonly byte[] EventPrefix = "event: "u8.ToArray();
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly Utf8JsonWriter _json = new(pipe);

    public async Task WriteAsync(Action<Utf8JsonWriter> writeJson, CancellationToken cancellationToken)
    {
        pipe.Write(DataPrefix);
        _json.Reset(pipe);
        writeJson(_json);
        _json.Flush();
        pipe.Write(EventEnd);
        await pipe.FlushAsync(cancellationToken);
    }

    /// <summary>A typed event, <c>event: &lt;type&gt;</c> before its data line, as the Responses API sends them.</summary>
    public Task WriteAsync(string eventType, Action<Utf8JsonWriter> writeJson, CancellationToken cancellationToken)
    {
        pipe.Write(EventPrefix);
        pipe.Write(System.Text.Encoding.UTF8.GetBytes(eventType));
        pipe.Write(NewLine);
        return WriteAsync(writeJson, cancellationToken);
    }

    public async Task WriteDoneAsync(CancellationToken cancellationToken)
    {
        pipe.Write(Done);
        await pipe.FlushAsync(cancellationToken);
    }

    public void Dispose() => _json.Dispose();
}
