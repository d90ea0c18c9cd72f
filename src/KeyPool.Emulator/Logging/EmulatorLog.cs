using Microsoft.Extensions.Logging;

namespace KeyPool.Emulator.Logging;

/// <summary>Emulator log messages, event ids 9000–9099. Keys are never logged, only their team.</summary>
internal static partial class EmulatorLog
{
    [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "Upstream emulator listening on {BaseUrl} with {KeyCount} keys")]
    public static partial void Listening(ILogger logger, Uri baseUrl, int keyCount);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Injected status {Status} for team {Team} on {Path}")]
    public static partial void InjectedFailure(ILogger logger, int status, string team, string path);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Rate limited team {Team} on model {Model}: {Kind} per minute exhausted")]
    public static partial void RateLimited(ILogger logger, string team, string model, string kind);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "Aborted a stream for team {Team} after {Chunks} chunks, as the fault asked")]
    public static partial void ResetMidStream(ILogger logger, string team, int chunks);
}
