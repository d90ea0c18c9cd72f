using System.Collections.Frozen;
using Microsoft.Extensions.Primitives;

namespace KeyPool.Proxy;

/// <summary>
/// Which of the client's request headers reach the upstream: only those on an allow-list, and of those not one the
/// client's <c>Connection</c> header names (RFC 9110 §7.6.1, every token of every value). A header an end user sends to
/// steer the upstream account (<c>OpenAI-Organization</c>, <c>OpenAI-Project</c>, look-alike spellings such as
/// <c>x_grok_conv_id</c>), describe the caller's network or carry the caller's credentials never leaves. The gateway sets
/// the rest itself: host, body framing and type, the pool key, the conversation id of an end user. The caller's trace
/// context (<c>traceparent</c>, <c>tracestate</c>, <c>baggage</c>) stays here too: it describes the operator's systems to
/// a third party that joins no trace of ours.
/// </summary>
internal static class UpstreamHeaderPolicy
{
    private static readonly FrozenSet<string> Allowed = new[]
    {
        // What an OpenAI- or Anthropic-compatible client needs the upstream to see.
        "Accept", "User-Agent", "OpenAI-Beta", "anthropic-version", "anthropic-beta", "Idempotency-Key",
        // A backend's own conversation id (an end user's is replaced by the gateway's: see HeaderCopier.ToUpstream).
        HeaderCopier.ConversationHeader,
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

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
        Allowed.Contains(name) && (connection.Count == 0 || !IsNamedBy(connection, name));
}
