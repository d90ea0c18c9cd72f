namespace KeyPool.Hosting;

/// <summary>Every log line of the gateway. Event ids by area: 1xx keys, 2xx proxy, 3xx users, 4xx usage, 5xx host. Never a key, only its group.</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Information, "API Key Pool: Detected {Count} available keys (groups {Groups})")]
    public static partial void KeysDetected(ILogger logger, int count, string groups);

    [LoggerMessage(101, LogLevel.Warning, "API Key Pool: {Warning}")]
    public static partial void KeyWarning(ILogger logger, string warning);

    [LoggerMessage(105, LogLevel.Information, "API Key Pool: keys reloaded ({Trigger}): {Change}; {Count} keys")]
    public static partial void KeysReloaded(ILogger logger, string trigger, string change, int count);

    [LoggerMessage(106, LogLevel.Error, "API Key Pool: key reload ({Trigger}) rejected, the current keys stay: {Problems}")]
    public static partial void KeyReloadRejected(ILogger logger, string trigger, string problems);

    [LoggerMessage(200, LogLevel.Information, "Using model: {Model} | Tier: {Tier} | API Key Group: {Group}")]
    public static partial void UsingModel(ILogger logger, string model, string tier, int group);

    [LoggerMessage(201, LogLevel.Warning, "Key group {UserGroup} has no key: request of a user of that group served by group {Group} ({Policy})")]
    public static partial void MissingKeyFallback(ILogger logger, int userGroup, int group, string policy);

    [LoggerMessage(202, LogLevel.Error, "The upstream rejected the API key of group {Group} ({Status}): {Message}")]
    public static partial void KeyRejected(ILogger logger, int group, int status, string message);

    [LoggerMessage(203, LogLevel.Warning, "Upstream unreachable for group {Group}: {Reason}")]
    public static partial void UpstreamUnreachable(ILogger logger, int group, string reason);

    [LoggerMessage(204, LogLevel.Warning, "Upstream timed out after {Timeout} for group {Group}")]
    public static partial void UpstreamTimeout(ILogger logger, int group, TimeSpan timeout);

    [LoggerMessage(205, LogLevel.Warning, "Upstream answer of group {Group} broke off ({Reason}); the client had part of it: {ClientSawBytes}")]
    public static partial void AnswerBrokeOff(ILogger logger, int group, string reason, bool clientSawBytes);

    [LoggerMessage(206, LogLevel.Debug, "Group {UserGroup} out of budget or unhealthy: request spilled to group {Group}")]
    public static partial void Spilled(ILogger logger, int userGroup, int group);

    [LoggerMessage(207, LogLevel.Warning, "Upstream rate-limited group {Group}: cooling down for {Wait}")]
    public static partial void CoolingDown(ILogger logger, int group, TimeSpan wait);

    [LoggerMessage(209, LogLevel.Warning, "The upstream refused group {Group} the model {Model} (403): other keys serve it for now; asking the upstream whether the key is blocked")]
    public static partial void ModelRefused(ILogger logger, int group, string model);

    [LoggerMessage(208, LogLevel.Warning, "Circuit opened for group {Group} after repeated failures")]
    public static partial void CircuitOpened(ILogger logger, int group);

    [LoggerMessage(102, LogLevel.Information, "Key group {Group} is back: the upstream reports it enabled")]
    public static partial void KeyReenabled(ILogger logger, int group);

    [LoggerMessage(103, LogLevel.Warning, "Key group {Group}: {Problem}")]
    public static partial void KeyCheckProblem(ILogger logger, int group, string problem);

    [LoggerMessage(104, LogLevel.Warning, "API Key Pool: {Sentence}")]
    public static partial void SharedTeam(ILogger logger, string sentence);

    [LoggerMessage(110, LogLevel.Information, "Upstream model list read: {Count} models; other model names are answered 404 by KeyPool")]
    public static partial void ModelListLoaded(ILogger logger, int count);

    [LoggerMessage(500, LogLevel.Error, "Background task {Service} failed; it runs again at its next interval")]
    public static partial void PeriodicTickFailed(ILogger logger, string service, Exception exception);

    [LoggerMessage(111, LogLevel.Warning, "Upstream model list not available ({Reason}): every model name is passed on, the budget table bounds itself")]
    public static partial void ModelListUnavailable(ILogger logger, string reason);

    [LoggerMessage(300, LogLevel.Information, "User {UserId} assigned to key group {Group} (tier {Tier})")]
    public static partial void UserAssigned(ILogger logger, string userId, int group, string tier);

    [LoggerMessage(301, LogLevel.Information, "User {UserId} changed by an admin: key group {Group}, tier {Tier}")]
    public static partial void UserUpdated(ILogger logger, string userId, int group, string tier);

    [LoggerMessage(400, LogLevel.Warning, "Usage flush failed; counts kept in memory for the next try")]
    public static partial void UsageFlushFailed(ILogger logger, Exception exception);

    [LoggerMessage(401, LogLevel.Warning, "Usage per user flush failed; {Rows} rows kept in memory for the next try")]
    public static partial void UserUsageFlushFailed(ILogger logger, int rows, Exception exception);

    [LoggerMessage(402, LogLevel.Warning, "Usage per user is held for {Rows} user-days, the cap (KeyPool:Usage:MaxPendingUserRows) while the store is down: {Requests} requests and {Tokens} tokens of new users were not counted so far")]
    public static partial void UserUsageDropped(ILogger logger, int rows, long requests, long tokens);

    [LoggerMessage(403, LogLevel.Warning, "Stopping: {InFlight} requests had not ended when the last usage flush began; their usage is not written")]
    public static partial void UsageFlushBeforeIdle(ILogger logger, int inFlight);
}
