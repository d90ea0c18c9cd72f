using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace KeyPool.RequestLog;

/// <summary>
/// Writes request log lines off the request path: <see cref="TryWrite"/> only queues into a bounded channel (a full
/// queue drops the line and counts it), and this service appends the lines to the file and/or the console, rotating
/// the file by size into a bounded number of older files.
/// </summary>
internal sealed partial class RequestLogWriter : BackgroundService
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    private readonly RequestLogOptions _options;
    private readonly Channel<RequestLogEntry>? _queue;
    private readonly ILogger<RequestLogWriter> _logger;
    private FileStream? _file;
    private long _dropped;
    private long _written;

    public RequestLogWriter(IOptions<RequestLogOptions> options, ILogger<RequestLogWriter> logger)
    {
        _options = options.Value;
        _logger = logger;
        if (_options.Writes)
        {
            _queue = Channel.CreateBounded<RequestLogEntry>(new BoundedChannelOptions(Math.Max(1, _options.QueueCapacity))
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once, and the line is counted as dropped
            });
        }
    }

    /// <summary>Lines dropped because the queue was full (the disk or console could not keep up).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Lines written so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues a line; never waits.</summary>
    public void TryWrite(RequestLogEntry entry)
    {
        if (_queue is not null && !_queue.Writer.TryWrite(entry))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_queue is null)
        {
            return;
        }
        using var buffer = new MemoryStream();
        await using var json = new Utf8JsonWriter(buffer);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                await DrainAsync(_queue.Reader, buffer, json, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_queue is null)
        {
            return;
        }
        // Lines queued before the stop are still written (also when the loop never got to run).
        using var buffer = new MemoryStream();
        await using var json = new Utf8JsonWriter(buffer);
        await DrainAsync(_queue.Reader, buffer, json, CancellationToken.None);
        await CloseAsync();
    }

    private async Task DrainAsync(ChannelReader<RequestLogEntry> reader, MemoryStream buffer, Utf8JsonWriter json, CancellationToken cancellationToken)
    {
        while (reader.TryRead(out var entry))
        {
            buffer.SetLength(0);
            json.Reset(buffer);
            JsonSerializer.Serialize(json, entry, RequestLogJson.Default.RequestLogEntry);
            await json.FlushAsync(cancellationToken);
            buffer.Write(NewLine);
            try
            {
                await WriteLineAsync(buffer, cancellationToken);
                Interlocked.Increment(ref _written);
            }
            catch (IOException exception)
            {
                Interlocked.Increment(ref _dropped);
                LogWriteFailed(_logger, _options.Path ?? "console", exception.Message);
                await CloseAsync();
            }
        }
        if (_file is not null)
        {
            await _file.FlushAsync(cancellationToken);
        }
    }

    private async Task WriteLineAsync(MemoryStream line, CancellationToken cancellationToken)
    {
        if (_options.Console)
        {
            using var stdout = System.Console.OpenStandardOutput();
            await stdout.WriteAsync(line.GetBuffer().AsMemory(0, (int)line.Length), cancellationToken);
        }
        if (string.IsNullOrEmpty(_options.Path))
        {
            return;
        }
        var file = _file ??= Open(_options.Path);
        if (file.Length > 0 && file.Length + line.Length > Math.Max(4096, _options.MaxFileBytes))
        {
            await CloseAsync();
            Rotate(_options.Path, Math.Max(0, _options.MaxFiles));
            file = _file = Open(_options.Path);
        }
        await file.WriteAsync(line.GetBuffer().AsMemory(0, (int)line.Length), cancellationToken);
    }

    private async Task CloseAsync()
    {
        if (_file is { } file)
        {
            _file = null;
            await file.DisposeAsync();
        }
    }

    private static FileStream Open(string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }
        return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
    }

    /// <summary>PATH → PATH.1 → … → PATH.N; the oldest beyond N is deleted.</summary>
    internal static void Rotate(string path, int keep)
    {
        if (keep == 0)
        {
            File.Delete(path);
            return;
        }
        File.Delete($"{path}.{keep}");
        for (var n = keep - 1; n >= 1; n--)
        {
            if (File.Exists($"{path}.{n}"))
            {
                File.Move($"{path}.{n}", $"{path}.{n + 1}");
            }
        }
        File.Move(path, $"{path}.1");
    }

    [LoggerMessage(EventId = 1901, Level = LogLevel.Warning, Message = "Request log could not be written to {Target}: {Reason}; the line is counted as dropped")]
    private static partial void LogWriteFailed(ILogger logger, string target, string reason);
}
