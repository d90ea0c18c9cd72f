using System.Net;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Proxy;

/// <summary>Upstream faults a real provider shows and the emulator cannot: a raw socket plays the upstream.</summary>
public sealed class UpstreamFaultTests
{
    [Fact]
    public async Task JsonAnswerCutMidBody_IsRetriedOnAnotherKey_ThenAClearError()
    {
        // Promise 1,000 bytes of JSON, send 20, and hang up.
        await using var upstream = new RawUpstream(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":\"chatcmpl-1\",\""));
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = upstream.BaseUrl,
            ["KeyPool:Keys:CheckOnStart"] = "false",
        });

        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "ivy"));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_failed", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(2, upstream.Posts); // the second key was tried: nothing had reached the client
    }
}
