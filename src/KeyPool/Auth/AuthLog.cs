namespace KeyPool.Auth;

/// <summary>Log lines of caller authentication, event ids 6xx. Never a key, a token or a secret: ids, prefixes and reasons only.</summary>
internal static partial class AuthLog
{
    [LoggerMessage(600, LogLevel.Information, "Gateway key {KeyId} ({Prefix}) issued for user {UserId}")]
    public static partial void GatewayKeyIssued(ILogger logger, string keyId, string prefix, string userId);

    [LoggerMessage(601, LogLevel.Information, "Gateway key {KeyId} of user {UserId} revoked")]
    public static partial void GatewayKeyRevoked(ILogger logger, string keyId, string userId);

    [LoggerMessage(602, LogLevel.Warning, "Failed authentication attempts from {Source}: its next attempt must wait {Delay}")]
    public static partial void AdminThrottled(ILogger logger, string source, TimeSpan delay);

    [LoggerMessage(603, LogLevel.Debug, "JWT rejected: {Reason}")]
    public static partial void JwtRejected(ILogger logger, string reason);

    [LoggerMessage(604, LogLevel.Warning, "Could not fetch the JSON Web Key Set from {Url}: {Reason}")]
    public static partial void JwksFetchFailed(ILogger logger, string url, string reason);

    [LoggerMessage(605, LogLevel.Information, "JSON Web Key Set loaded from {Url}: {Count} signing keys")]
    public static partial void JwksLoaded(ILogger logger, string url, int count);

    [LoggerMessage(606, LogLevel.Information, "Callers may authenticate with: {Methods}")]
    public static partial void CallerMethods(ILogger logger, string methods);

    [LoggerMessage(607, LogLevel.Warning, "{Warning}")]
    public static partial void UntrustedProxy(ILogger logger, string warning);
}
