using System.Net.Http.Headers;
using System.Text;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Reliability.HostileInput;

/// <summary>
/// The hostile inputs of docs/reliability.md, one per name: what is sent, and the answer expected. Each must be a 4xx
/// that never reaches the upstream. Kestrel answers header-level abuse itself (no application code runs); KeyPool gives
/// those answers OpenAI's body too (<c>KestrelRefusals</c>).
/// </summary>
internal sealed record HostileInputCase(string Name, int Status, string? Code, Func<GatewayHarness, HttpRequestMessage>? Request, Func<GatewayHarness, byte[]>? Raw = null)
{
    public const int MaxMessages = 1_000;

    /// <summary>The gateway's settings for these cases: the defaults, with a smaller messages cap so its case stays small.</summary>
    public static Dictionary<string, string?> Settings() => new()
    {
        ["KeyPool:Limits:MaxMessages"] = MaxMessages.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static IReadOnlyList<HostileInputCase> All { get; } =
    [
        new("oversized body (11 MB)", 413, "request_too_large", g => Chat(g, Bytes(GatewayHarness.ChatBody(content: new string('a', 11 * 1024 * 1024))))),
        new("oversized body, no Content-Length (chunked 11 MB)", 413, "request_too_large", g => Chunked(g, Bytes(GatewayHarness.ChatBody(content: new string('a', 11 * 1024 * 1024))))),
        new("oversized headers (64 KB)", 431, "request_headers_too_large", null, g => RawRequest(g, $"X-Padding: {new string('p', 64 * 1024)}\r\n", Bytes(GatewayHarness.ChatBody()))),
        new("invalid JSON", 400, "invalid_json", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"messages\":["))),
        new("JSON that is not an object", 400, "invalid_json", g => Chat(g, Bytes("[1,2,3]"))),
        new("JSON nested 10,000 deep", 400, "invalid_json", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"messages\":" + new string('[', 10_000) + new string(']', 10_000) + "}"))),
        new("messages array of 1,000,000 items", 400, "too_many_items", g => Chat(g, MillionMessages())),
        new("input array over the cap", 400, "too_many_items", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"input\":[" + string.Join(',', Enumerable.Repeat("\"x\"", MaxMessages + 1)) + "]}"))),
        new("invalid UTF-8 in a message", 400, "invalid_json", g => Chat(g, [.. Bytes("{\"model\":\"grok-4.3\",\"messages\":[{\"role\":\"user\",\"content\":\""), 0xC3, 0x28, 0xFF, .. Bytes("\"}]}")])),
        new("invalid UTF-8 in the user field", 400, "invalid_json", g => Chat(g, [.. Bytes("{\"model\":\"grok-4.3\",\"user\":\""), 0xED, 0xA0, 0x80, .. Bytes("\",\"messages\":[]}")], user: null)),
        new("lone surrogate escape in the user field", 400, "invalid_json", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"user\":\"\\ud800\",\"messages\":[]}"), user: null)),
        new("control characters in the user field", 400, "missing_user", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"user\":\"bad\\u0001user\",\"messages\":[]}"), user: null)),
        new("10 KB user id in the user field", 400, "missing_user", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"user\":\"" + new string('u', 10 * 1024) + "\",\"messages\":[]}"), user: null)),
        new("10 KB user id in X-KeyPool-User", 400, "missing_user", g => Chat(g, Bytes(GatewayHarness.ChatBody()), user: new string('u', 10 * 1024))),
        new("control character in X-KeyPool-User", 400, "missing_user", null, g => RawRequest(g, "X-KeyPool-User: bad\u0001user\r\n", Bytes(GatewayHarness.ChatBody()))),
        new("non-ASCII bytes in X-KeyPool-User", 400, "bad_request", null, g => RawRequest(g, "X-KeyPool-User: \u00ff\u00fe\r\n", Bytes(GatewayHarness.ChatBody()))),
        new("empty user field and no header", 400, "missing_user", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"user\":\"\",\"messages\":[]}"), user: null)),
        new("blank user field", 400, "missing_user", g => Chat(g, Bytes("{\"model\":\"grok-4.3\",\"user\":\"   \",\"messages\":[]}"), user: null)),
        new("empty X-KeyPool-User and no user field", 400, "missing_user", g => Chat(g, Bytes(GatewayHarness.ChatBody()), user: "")),
        new("POST without a body", 400, "invalid_json", g => Chat(g, null)),
        new("text/plain body", 415, "unsupported_media_type", g => Chat(g, Bytes(GatewayHarness.ChatBody()), contentType: "text/plain")),
        new("form-encoded body", 415, "unsupported_media_type", g => Chat(g, Bytes(GatewayHarness.ChatBody()), contentType: "application/x-www-form-urlencoded")),
        new("multipart body", 415, "unsupported_media_type", g => Chat(g, Bytes(GatewayHarness.ChatBody()), contentType: "multipart/form-data; boundary=x")),
    ];

    /// <summary>A body of megabytes (the oversized ones, the million messages).</summary>
    public bool MultiMegabyte => Name.Contains("11 MB", StringComparison.Ordinal) || Name.Contains("1,000,000", StringComparison.Ordinal);

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });

    public static HostileInputCase Named(string name) => All.Single(c => c.Name == name);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    // ≈ 3 MB: under the body limit, so only the item count refuses it.
    private static byte[] MillionMessages()
    {
        var body = new StringBuilder("{\"model\":\"grok-4.3\",\"messages\":[", 3_000_100);
        body.Insert(body.Length, "{},", 999_999).Append("{}]}");
        return Bytes(body.ToString());
    }

    private static HttpRequestMessage Chat(GatewayHarness gateway, byte[]? body, string? user = "hostile-user", string contentType = "application/json")
    {
        var request = gateway.ChatRequest(null, user: null);
        if (user is not null)
        {
            request.Headers.TryAddWithoutValidation("X-KeyPool-User", user);
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        return request;
    }

    private static HttpRequestMessage Chunked(GatewayHarness gateway, byte[] body)
    {
        var request = Chat(gateway, null);
        request.Content = new StreamContent(new MemoryStream(body)); // no length known: sent chunked
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return request;
    }

    /// <summary>A request written byte for byte, for what HttpClient refuses to send.</summary>
    private static byte[] RawRequest(GatewayHarness gateway, string extraHeaders, byte[] body)
    {
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:{gateway.BaseAddress.Port}\r\nAuthorization: Bearer {GatewayHarness.ClientToken}\r\n"
            + $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n{extraHeaders}\r\n";
        return [.. Encoding.Latin1.GetBytes(head), .. body];
    }
}
