namespace KeyPool.Cluster;

/// <summary>Log lines of the shared state between instances (event ids 6xx). Keys only by group.</summary>
internal static partial class ClusterLog
{
    [LoggerMessage(620, LogLevel.Error, "Shared state unavailable ({Reason}): each instance now serves 1/{Instances} of every budget until it is back")]
    public static partial void Down(ILogger logger, string reason, int instances);

    [LoggerMessage(621, LogLevel.Information, "Shared state is back ({Instances} instances; it had lost its data: {Lost}): recent spends written, budgets leased again")]
    public static partial void Back(ILogger logger, int instances, bool lost);

    [LoggerMessage(610, LogLevel.Information, "Cluster: instance {Instance} sharing budgets and key state through Redis at {Endpoint}")]
    public static partial void Joined(ILogger logger, string instance, string endpoint);

    [LoggerMessage(611, LogLevel.Information, "Cluster: key group {Group} is now {State} (from instance {Origin})")]
    public static partial void KeyStateApplied(ILogger logger, int group, string state, string? origin);

    [LoggerMessage(612, LogLevel.Information, "Cluster: instance {Origin} reloaded its keys: reloading here too")]
    public static partial void ReloadRequested(ILogger logger, string? origin);

    [LoggerMessage(613, LogLevel.Information, "Cluster: users were moved by instance {Origin}: user cache cleared")]
    public static partial void UsersMoved(ILogger logger, string? origin);

    [LoggerMessage(617, LogLevel.Information, "Cluster: a user's tier or group was changed by instance {Origin}: forgotten here, read again at their next request")]
    public static partial void UserChanged(ILogger logger, string? origin);

    [LoggerMessage(614, LogLevel.Information, "Cluster: a gateway key was revoked by instance {Origin}: forgotten here")]
    public static partial void GatewayKeyRevoked(ILogger logger, string? origin);

    [LoggerMessage(615, LogLevel.Information, "Cluster: reconnected to Redis: caches cleared, key states read again")]
    public static partial void Reconnected(ILogger logger);

    [LoggerMessage(616, LogLevel.Warning, "Cluster: {What} failed")]
    public static partial void Failed(ILogger logger, string what, Exception exception);
}
