using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KeyPool.Hosting;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Security;

/// <summary>The answers Kestrel writes before any KeyPool code runs (headers too large, request line too long) carry OpenAI's error body.</summary>
public sealed class KestrelRefusalTests
{
    [Fact]
    public async Task HeadersTooLarge_Is431_InOpenAIsShape_AndClosesTheConnection()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        using var request = gateway.ChatRequest(GatewayHarness.ChatBody(), "alice");
        request.Headers.Add("X-Padding", new string('a', 40 * 1024)); // Kestrel's limit for all headers is 32 KB

        using var response = await gateway.Http.SendAsync(request);

        Assert.Equal((HttpStatusCode)431, response.StatusCode);
        Assert.True(response.Headers.ConnectionClose);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("request_headers_too_large", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Empty(gateway.ChatServed);
    }

    [Fact]
    public async Task OnAKeptAliveConnection_AServedRequestThenOversizedHeaders_TheSecondAnswerIsTheJson431()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.BaseAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /api/admin/api-keys/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + $"Authorization: Bearer {GatewayHarness.AdminToken}\r\n\r\n"));
        var first = await RawHttp.ReadAnswerAsync(stream, untilClosed: false);
        Assert.StartsWith("HTTP/1.1 200", first, StringComparison.Ordinal);

        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /api/admin/api-keys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {new string('b', 40 * 1024)}\r\n\r\n"));
        var second = await RawHttp.ReadAnswerAsync(stream, untilClosed: true);

        Assert.StartsWith("HTTP/1.1 431", second, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n", second, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/json\r\n", second, StringComparison.Ordinal);
        var body = second[(second.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Contains($"\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n", second, StringComparison.Ordinal);
        Assert.Equal("request_headers_too_large", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task RequestLineTooLong_Is414_InOpenAIsShape()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        using var response = await gateway.Http.GetAsync("/v1/models?pad=" + new string('c', 10 * 1024)); // Kestrel's limit is 8 KB

        Assert.Equal(HttpStatusCode.RequestUriTooLong, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("request_line_too_long", error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")] // not a refusal
    [InlineData("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")] // has a body of its own
    [InlineData("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n")] // keeps the connection: not Kestrel's
    [InlineData("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n")] // head not whole in one write
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")] // a status Kestrel does not refuse with
    public void OnlyKestrelsOwnEmptyRefusals_AreReplaced(string head) =>
        Assert.Null(KestrelRefusals.Replace(Encoding.ASCII.GetBytes(head)));
}
