namespace KeyPool.Storage;

/// <summary>Log lines of the store: event ids 58x (host area). Never a connection string (it may hold a password).</summary>
internal static partial class StoreLog
{
    [LoggerMessage(581, LogLevel.Information, "Usable key groups published to the store: {Groups}")]
    public static partial void UsableGroupsPublished(ILogger logger, string groups);

    [LoggerMessage(582, LogLevel.Warning, "Could not publish the usable key groups to the store (retried): {Reason}")]
    public static partial void UsableGroupsFailed(ILogger logger, string reason);

    [LoggerMessage(583, LogLevel.Warning, "The store is unavailable: {Method} {Path} answered 503")]
    public static partial void StoreUnavailable(ILogger logger, string method, string path, Exception exception);
}
