using System.Collections.Concurrent;
using System.Net;
using KeyPool.Proxy;
using KeyPool.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KeyPool.Tests.Proxy;

/// <summary>What of the client's request reaches the upstream: a real upstream on Kestrel records the headers it got.</summary>
public sealed class UpstreamHeaderTests
{
    [Fact]
    public async Task ClientHeaders_OnlyEndToEndOnesReachTheUpstream()
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = upstream.BaseUrl + "v1",
            ["KeyPool:Keys:CheckOnStart"] = "false",
        });
        using var request = gateway.ChatRequest(GatewayHarness.ChatBody(), user: "dave");
        request.RequestUri = new Uri("/v1/chat/completions?trace=1", UriKind.Relative);
        request.Headers.Add("Cookie", "session=caller-cookie");
        request.Headers.Add("X-Forwarded-For", "10.1.2.3");
        request.Headers.Add("X-Forwarded-Host", "caller.example");
        request.Headers.Add("Forwarded", "for=10.1.2.3");
        request.Headers.Add("X-Real-IP", "10.1.2.3");
        request.Headers.Add("X-Api-Key", "caller-secret");
        request.Headers.Connection.Add("X-Hop-Secret");
        request.Headers.Add("X-Hop-Secret", "hop");
        request.Headers.Add("Keep-Alive", "timeout=5");
        request.Headers.Add("OpenAI-Beta", "assistants=v2");
        request.Headers.Add("X-Trace-Id", "trace-1");
        request.Headers.Add("OpenAI-Organization", "org-of-the-caller");
        request.Headers.Add("OpenAI-Project", "proj-of-the-caller");
        request.Headers.TryAddWithoutValidation("x_grok_conv_id", "caller-chosen");
        // Kestrel shows this list as "keep-alive" alone: the header named in it must stay here all the same.
        request.Headers.TryAddWithoutValidation("Connection", "keep-alive, User-Agent");
        request.Headers.Add("User-Agent", "named-by-connection");
        request.Headers.Add("Accept", "application/json");

        using var response = await gateway.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(upstream.Requests);
        Assert.Equal("/v1/chat/completions?trace=1", seen.PathAndQuery);
        Assert.Contains(seen.Headers["Authorization"], gateway.Keys.Select(k => $"Bearer {k}"));
        string[] neverForwarded = ["OpenAI-Organization", "OpenAI-Project", "x_grok_conv_id", "X-Trace-Id", "User-Agent", "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Real-IP", "X-Api-Key", "X-Hop-Secret", "Keep-Alive", "X-KeyPool-User", "Accept-Encoding"];
        var leaked = string.Join(", ", neverForwarded.Where(seen.Headers.ContainsKey));
        Assert.True(leaked.Length == 0, $"Reached the upstream: {leaked}");
        Assert.Equal("assistants=v2", seen.Headers["OpenAI-Beta"]);
        Assert.Equal("application/json", seen.Headers["Accept"]);
        Assert.Equal(upstream.BaseUrl.Authority, seen.Headers["Host"]);
        Assert.Equal(ConversationId.For("dave"), seen.Headers["x-grok-conv-id"]);
        Assert.StartsWith("application/json", seen.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.DoesNotContain(seen.Headers.Values, v => v.Contains(GatewayHarness.ClientToken, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("keep-alive, User-Agent")]
    [InlineData("User-Agent, keep-alive")]
    [InlineData("close, User-Agent")]
    [InlineData("User-Agent")]
    public async Task AHeaderNamedInConnection_StaysHere_WhateverElseTheListHolds_AndOnlyForItsRequest(string connection)
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = upstream.BaseUrl + "v1",
            ["KeyPool:Keys:CheckOnStart"] = "false",
        });
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.BaseAddress.Port);
        var stream = client.GetStream();
        var body = GatewayHarness.ChatBody();
        async Task SendAsync(string connectionHeader, string agent)
        {
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + $"Authorization: Bearer {GatewayHarness.ClientToken}\r\nX-KeyPool-User: dave\r\nContent-Type: application/json\r\n"
                + $"Connection: {connectionHeader}\r\nUser-Agent: {agent}\r\nContent-Length: {body.Length}\r\n\r\n{body}"));
            Assert.StartsWith("HTTP/1.1 200", await Security.RawHttp.ReadAnswerAsync(stream, untilClosed: false), StringComparison.Ordinal);
        }

        await SendAsync(connection, "named-by-connection");
        if (!connection.StartsWith("close", StringComparison.Ordinal))
        {
            await SendAsync("keep-alive", "not-named"); // the same connection: the list of the first request is not this one's
        }

        var seen = upstream.Requests.ToArray();
        Assert.False(seen[0].Headers.ContainsKey("User-Agent"), $"Reached the upstream: User-Agent: {seen[0].Headers.GetValueOrDefault("User-Agent")}");
        if (seen.Length > 1)
        {
            Assert.Equal("not-named", seen[1].Headers["User-Agent"]);
        }
    }

    [Theory]
    [InlineData("X-Secret", "X-Secret", true)]
    [InlineData("keep-alive, x-secret", "X-Secret", true)]
    [InlineData("close", "X-Secret", false)]
    [InlineData("X-Secret-Two", "X-Secret", false)]
    public void IsNamedBy_ReadsTheConnectionHeadersTokens(string connection, string name, bool named) =>
        Assert.Equal(named, UpstreamHeaderPolicy.IsNamedBy(connection, name));

    /// <summary>An upstream that records each request's path and headers and answers one fixed chat completion.</summary>
    private sealed class RecordingUpstream : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private RecordingUpstream(WebApplication app, Uri baseUrl) => (_app, BaseUrl) = (app, baseUrl);

        public Uri BaseUrl { get; }

        public ConcurrentQueue<(string PathAndQuery, Dictionary<string, string> Headers)> Requests { get; } = new();

        public static async Task<RecordingUpstream> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            RecordingUpstream? self = null;
            app.MapPost("/v1/chat/completions", async (HttpContext context) =>
            {
                self!.Requests.Enqueue((context.Request.Path + context.Request.QueryString,
                    context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"id":"c1","object":"chat.completion","model":"grok-4.3","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}""");
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            self = new RecordingUpstream(app, new Uri(address.TrimEnd('/') + "/"));
            return self;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
