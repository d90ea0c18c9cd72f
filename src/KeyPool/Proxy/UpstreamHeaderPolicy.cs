using System.Collections.Frozen;
using Microsoft.Extensions.Primitives;

namespace KeyPool.Proxy;

/// <summary>
/// Which of the client's request headers never reach the upstream: hop-by-hop headers and those the
/// client's <c>Connection</c> header names (RFC 9110 §7.6.1), the caller's own credentials and cookies
/// (KeyPool sends the pool key instead), what describes the caller's network (<c>X-Forwarded-*</c>,
/// <c>Forwarded</c>, <c>X-Real-IP</c>), KeyPool's own <c>X-KeyPool-User</c>, and what the gateway sets
/// itself (host, body framing, encoding: bodies must arrive uncompressed to be read for usage).
/// </summary>
internal static class UpstreamHeaderPolicy
{
    private static readonly FrozenSet<string> Dropped = new[]
    {
        // Hop-by-hop, and what YARP's list also drops.
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        "HTTP2-Settings", "Upgrade-Insecure-Requests", "Alt-Svc", "Close",
        // The caller's credentials and identity.
        "Authorization", "Proxy-Authorization", "Cookie", "Api-Key", "X-Api-Key", HeaderCopier.UserHeader,
        // The caller's network.
        "Forwarded", "X-Real-IP", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP",
        // The caller's trace context: it describes the operator's systems (baggage often carries user or tenant ids)
        // to a third party that joins no trace of ours; the trace goes on in KeyPool's own spans instead.
        "traceparent", "tracestate", "baggage",
        // Set by the gateway.
        "Host", "Content-Length", "Content-Type", "Expect", "Accept-Encoding",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="name"/> is never forwarded, whatever the <c>Connection</c> header says.</summary>
    public static bool IsDropped(string name) =>
        Dropped.Contains(name) || name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase) || name.StartsWith(':');

    /// <summary>Whether the client's <c>Connection</c> header (<paramref name="connection"/>) names <paramref name="name"/>.</summary>
    public static bool IsNamedBy(StringValues connection, string name)
    {
        foreach (var value in connection)
        {
            var tokens = value.AsSpan(); // a null value is an empty span
            foreach (var token in tokens.Split(','))
            {
                if (tokens[token].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Whether a client header named <paramref name="name"/> may be forwarded.</summary>
    public static bool MayForward(string name, StringValues connection) =>
        !IsDropped(name) && (connection.Count == 0 || !IsNamedBy(connection, name));
}
