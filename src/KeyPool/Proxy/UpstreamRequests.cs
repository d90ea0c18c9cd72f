using System.Net.Http.Headers;

namespace KeyPool.Proxy;

/// <summary>Builds the upstream request of one attempt: the target URL, the body, end-to-end headers, the key and a conversation id.</summary>
internal static class UpstreamRequests
{
    public static HttpRequestMessage Build(ProxyExchange exchange, string baseUrl, string secret)
    {
        var request = exchange.Context.Request;
        // The path was validated against the allow-list: it cannot leave the base path.
        var target = string.Concat(baseUrl, exchange.Path, request.QueryString.Value);
        // HttpMethod.Parse returns the shared instances for the common methods.
        var message = new HttpRequestMessage(HttpMethod.Parse(request.Method), target);
        if (!exchange.Body.IsEmpty)
        {
            message.Content = new ReadOnlyMemoryContent(exchange.Body);
            message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType is { Length: > 0 } contentType ? contentType : "application/json");
        }
        HeaderCopier.ToUpstream(request.Headers, message, ownConversation: exchange.EndUser);
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        if (exchange.UserId is { } userId && !message.Headers.Contains(HeaderCopier.ConversationHeader))
        {
            // One stable id per user keeps their calls on the same upstream cache server.
            message.Headers.TryAddWithoutValidation(HeaderCopier.ConversationHeader, ConversationId.For(userId));
        }
        return message;
    }
}
