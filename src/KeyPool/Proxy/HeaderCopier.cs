using System.Net.Http.Headers;
using Microsoft.Extensions.Primitives;

namespace KeyPool.Proxy;

/// <summary>
/// Copies end-to-end headers between the client and upstream exchanges. Hop-by-hop headers and those
/// named in <c>Connection</c> stop here both ways; the caller's credentials, cookies and forwarding
/// claims never reach the upstream; headers a browser would act on for KeyPool's own origin
/// (cookies, alternative services, HSTS…) never reach the client.
/// </summary>
internal static class HeaderCopier
{
    public const string UserHeader = "X-KeyPool-User";
    public const string ConversationHeader = "x-grok-conv-id";

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };

    private static readonly HashSet<string> NotReturned = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Length", "Set-Cookie", "Set-Cookie2", "Alt-Svc", "Strict-Transport-Security", "Public-Key-Pins",
        "Clear-Site-Data", "Refresh", "Location", "Server",
    };

    /// <summary>With <paramref name="ownConversation"/> (end-user credentials) the caller's conversation id is dropped: the gateway sets its own.</summary>
    public static void ToUpstream(IHeaderDictionary from, HttpRequestMessage to, bool ownConversation)
    {
        var connection = Hosting.ConnectionHeader.AsSent(from.Connection);
        foreach (var (name, values) in from)
        {
            if (!UpstreamHeaderPolicy.MayForward(name, connection)
                || (ownConversation && name.Equals(ConversationHeader, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }
            // The single-value overload avoids boxing StringValues into an enumerable.
            var added = values.Count == 1
                ? to.Headers.TryAddWithoutValidation(name, values[0])
                : to.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            if (!added && to.Content is { } content)
            {
                _ = values.Count == 1
                    ? content.Headers.TryAddWithoutValidation(name, values[0])
                    : content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
    }

    public static void ToClient(HttpResponseMessage from, HttpResponse to, bool keepContentLength)
    {
        var connection = from.Headers.NonValidated.TryGetValues("Connection", out var named) ? named : default;
        Copy(from.Headers, to.Headers, keepContentLength, connection);
        Copy(from.Content.Headers, to.Headers, keepContentLength, connection);
    }

    private static void Copy(HttpHeaders from, IHeaderDictionary to, bool keepContentLength, HeaderStringValues connection)
    {
        foreach (var header in from.NonValidated)
        {
            var name = header.Key;
            if (HopByHop.Contains(name) || (NotReturned.Contains(name) && !(keepContentLength && name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
                || (connection.Count > 0 && NamedIn(connection, name)))
            {
                continue;
            }
            to[name] = header.Value.Count == 1 ? header.Value.ToString() : header.Value.ToArray();
        }
    }

    // Connection: close, x-private-thing → x-private-thing is hop-by-hop too (RFC 9110 §7.6.1).
    private static bool NamedIn(HeaderStringValues connection, string name)
    {
        foreach (var value in connection)
        {
            foreach (var token in (value ?? "").Split(','))
            {
                if (token.Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }
        return false;
    }
}
