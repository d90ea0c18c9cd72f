using System.Net;
using System.Text;

namespace KeyPool.Configuration;

/// <summary>The checks of <c>KeyPool:Auth</c> and of "at least one way to call", run with the <c>KeyPool</c> section.</summary>
internal static class AuthOptionsValidation
{
    /// <summary>HS256 with a key shorter than its 256-bit hash would be the weak link.</summary>
    public const int MinSecretBytes = 32;

    /// <summary>Tokens shorter than this can be guessed; 24 characters of a random hex or base64 string are out of reach.</summary>
    public const int MinTokenLength = 24;

    public static IEnumerable<(bool Failed, string Message)> Checks(GatewayOptions options)
    {
        var auth = options.Auth;
        var jwt = auth.Jwt;
        var keys = auth.GatewayKeys;
        var throttle = auth.AdminThrottle;
        var hasClientTokens = options.ClientTokens.Any(t => !string.IsNullOrWhiteSpace(t));

        yield return (!hasClientTokens && !keys.Enabled && !jwt.IsConfigured,
            "No way for callers to authenticate: set at least one of KeyPool:ClientTokens (e.g. KeyPool__ClientTokens__0), "
            + "KeyPool:Auth:GatewayKeys:Enabled=true, or KeyPool:Auth:Jwt:Secret / KeyPool:Auth:Jwt:JwksUrl.");

        yield return (options.AdminToken.Trim() is { Length: > 0 and < MinTokenLength } admin,
            $"KeyPool:AdminToken must be at least {MinTokenLength} characters, not {options.AdminToken.Trim().Length} (e.g. openssl rand -hex 16).");
        foreach (var (token, index) in options.ClientTokens.Select((t, i) => (t.Trim(), i)).Where(t => t.Item1.Length is > 0 and < MinTokenLength))
        {
            yield return (true, $"KeyPool:ClientTokens:{index} must be at least {MinTokenLength} characters, not {token.Length} (e.g. openssl rand -hex 16).");
        }

        var hasSecret = !string.IsNullOrWhiteSpace(jwt.Secret);
        var hasJwks = !string.IsNullOrWhiteSpace(jwt.JwksUrl);
        yield return (hasSecret && hasJwks, "KeyPool:Auth:Jwt: set Secret (HS256) or JwksUrl (RS256/ES256), not both.");
        if (hasSecret)
        {
            var bytes = Encoding.UTF8.GetByteCount(jwt.Secret);
            yield return (bytes < MinSecretBytes, $"KeyPool:Auth:Jwt:Secret must be at least {MinSecretBytes} bytes for HS256, not {bytes}.");
        }
        if (hasJwks)
        {
            yield return (!IsAcceptableJwksUrl(jwt.JwksUrl),
                $"KeyPool:Auth:Jwt:JwksUrl must be an absolute https URL (http only to a loopback address), not '{jwt.JwksUrl}'.");
            // A key set signs tokens for many applications of the provider: without an audience, any of them would do.
            yield return (string.IsNullOrWhiteSpace(jwt.Audience),
                "KeyPool:Auth:Jwt:Audience is required with KeyPool:Auth:Jwt:JwksUrl: name this application's audience.");
        }
        if (!jwt.IsConfigured)
        {
            foreach (var (name, value) in new[] { ("Issuer", jwt.Issuer), ("Audience", jwt.Audience), ("AdminRole", jwt.AdminRole) })
            {
                yield return (!string.IsNullOrWhiteSpace(value), $"KeyPool:Auth:Jwt:{name} is set but neither KeyPool:Auth:Jwt:Secret nor KeyPool:Auth:Jwt:JwksUrl is.");
            }
        }
        yield return (!string.IsNullOrWhiteSpace(jwt.AdminRole) && string.IsNullOrWhiteSpace(jwt.RoleClaim),
            "KeyPool:Auth:Jwt:RoleClaim must name a claim when KeyPool:Auth:Jwt:AdminRole is set.");
        yield return (jwt.ClockSkew < TimeSpan.Zero || jwt.ClockSkew > TimeSpan.FromMinutes(5),
            $"KeyPool:Auth:Jwt:ClockSkew must be 0 to 5 minutes, not {jwt.ClockSkew}.");
        yield return (jwt.JwksRefreshInterval < TimeSpan.FromSeconds(30),
            $"KeyPool:Auth:Jwt:JwksRefreshInterval must be at least 30 s, not {jwt.JwksRefreshInterval}.");

        yield return (keys.CacheSize < 2, $"KeyPool:Auth:GatewayKeys:CacheSize must be at least 2, not {keys.CacheSize}.");
        yield return (keys.CacheTimeToLive <= TimeSpan.Zero, $"KeyPool:Auth:GatewayKeys:CacheTimeToLive must be positive, not {keys.CacheTimeToLive}.");

        yield return (throttle.FreeFailures < 1, $"KeyPool:Auth:AdminThrottle:FreeFailures must be at least 1, not {throttle.FreeFailures}.");
        yield return (throttle.Window <= TimeSpan.Zero, $"KeyPool:Auth:AdminThrottle:Window must be positive, not {throttle.Window}.");
        yield return (throttle.MaxDelay < TimeSpan.FromSeconds(1), $"KeyPool:Auth:AdminThrottle:MaxDelay must be at least 1 s, not {throttle.MaxDelay}.");
        yield return (throttle.MaxAddresses < 1, $"KeyPool:Auth:AdminThrottle:MaxAddresses must be at least 1, not {throttle.MaxAddresses}.");
    }

    private static bool IsAcceptableJwksUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && IsLoopback(uri)));

    /// <summary>A URL whose host is this machine: plain http to it never crosses a network.</summary>
    public static bool IsLoopback(Uri uri) => uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var ip) && IPAddress.IsLoopback(ip));
}
