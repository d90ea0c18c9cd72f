using System.Net.Http.Headers;

namespace KeyPool.Proxy;

/// <summary>Copies end-to-end headers between the client and upstream exchanges.</summary>
internal static class HeaderCopier
{
    private static readonly HashSet<string> NotReturned = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Trailer", "Upgrade", "Content-Length",
    };

    public const string UserHeader = "X-KeyPool-User";

    public static void ToUpstream(IHeaderDictionary from, HttpRequestMessage to)
    {
        var connection = from.Connection;
        foreach (var (name, values) in from)
        {
            if (!UpstreamHeaderPolicy.MayForward(name, connection))
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
        Copy(from.Headers, to.Headers, keepContentLength);
        Copy(from.Content.Headers, to.Headers, keepContentLength);
    }

    private static void Copy(HttpHeaders from, IHeaderDictionary to, bool keepContentLength)
    {
        foreach (var header in from.NonValidated)
        {
            if (NotReturned.Contains(header.Key) && !(keepContentLength && header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }
            to[header.Key] = header.Value.Count == 1 ? header.Value.ToString() : header.Value.ToArray();
        }
    }
}
