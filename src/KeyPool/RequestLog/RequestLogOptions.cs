using KeyPool.Telemetry;

namespace KeyPool.RequestLog;

/// <summary>The per-request log (<c>KeyPool:RequestLog</c>): a JSON line per <c>/v1</c> request, to a file and/or the console.</summary>
public sealed class RequestLogOptions
{
    public const string Section = "KeyPool:RequestLog";

    /// <summary>The file to append JSON lines to; rotated by size into <c>PATH.1</c> … <c>PATH.N</c>. Default none.</summary>
    public string? Path { get; set; }

    /// <summary>Also write each line to standard output. Default false.</summary>
    public bool Console { get; set; }

    /// <summary>Size at which the file is rotated. Default 100 MB; at least 4 KB.</summary>
    public long MaxFileBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>Rotated files kept besides the current one. Default 5; the log never holds more than (N + 1) × MaxFileBytes.</summary>
    public int MaxFiles { get; set; } = 5;

    /// <summary>Lines waiting to be written; when full, new lines are dropped and counted (requests never wait). Default 10,000.</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Requests this instance keeps in memory for the dashboard's Requests tab. Default 500; 0 turns the tab's list off.</summary>
    public int Recent { get; set; } = 500;

    /// <summary>How the end user appears in the log and the dashboard: <c>plain</c> (default), <c>hash</c> or <c>none</c>.</summary>
    public UserIdMode UserId { get; set; } = UserIdMode.Plain;

    /// <summary>Whether lines go anywhere besides the dashboard's list.</summary>
    public bool Writes => !string.IsNullOrEmpty(Path) || Console;
}
