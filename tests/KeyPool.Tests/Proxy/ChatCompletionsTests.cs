using System.Net;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using OpenAI.Chat;

namespace KeyPool.Tests.Proxy;

/// <summary>Chat through the gateway with the official OpenAI SDK, checked against what the emulator saw.</summary>
public sealed class ChatCompletionsTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 6);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task CompleteChat_NonStreaming_ServedByTheUsersOwnKey()
    {
        var client = _gateway.ChatClient();

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Hello there")], GatewayHarness.ForUser("alice"));

        Assert.StartsWith("Emulated", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.True(completion.Usage.TotalTokenCount > 0);
        var group = await _gateway.GroupOfAsync("alice");
        Assert.Equal([group], _gateway.GroupsThatServed("alice"));
    }

    [Fact]
    public async Task CompleteChat_Streaming_PassesEveryChunk_AndCountsTokens()
    {
        var client = _gateway.ChatClient();
        var text = new System.Text.StringBuilder();
        var updates = 0;

        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream please")], GatewayHarness.ForUser("bob")))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Stream please")], GatewayHarness.ForUser("bob"));
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.True(updates >= 8);
        var health = await _gateway.HealthAsync();
        var group = await _gateway.GroupOfAsync("bob");
        var stats = health.GetProperty("keyGroupStats").EnumerateArray().Single(s => s.GetProperty("key_group").GetInt32() == group);
        Assert.Equal(2, stats.GetProperty("total_requests").GetInt64());
        Assert.Equal(2 * whole.Usage.TotalTokenCount, stats.GetProperty("total_tokens").GetInt64());
    }

    [Fact]
    public async Task Stream_ClientDidNotAskForUsage_UsageChunkIsStripped_ButCounted()
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), user: "carol"), HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("\"usage\"", body, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
        Assert.True(_gateway.Emulator.Served.Single(s => s.ConversationId == global::KeyPool.Proxy.ConversationId.For("carol")).Stream);
        var health = await _gateway.HealthAsync();
        Assert.True(health.GetProperty("keyGroupStats").EnumerateArray().Sum(s => s.GetProperty("total_tokens").GetInt64()) > 0);
    }

    [Fact]
    public async Task Stream_ClientAskedForUsage_GetsTheUsageChunk()
    {
        var body = GatewayHarness.ChatBody(stream: true, extra: "\"stream_options\":{\"include_usage\":true}");
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(body, user: "dave"));
        var text = await response.Content.ReadAsStringAsync();

        var usageEvents = text.Split("\n\n").Where(e => e.Contains("\"usage\"", StringComparison.Ordinal)).ToArray();
        var usage = JsonDocument.Parse(Assert.Single(usageEvents)["data: ".Length..]).RootElement;
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.True(usage.GetProperty("usage").GetProperty("total_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task Stream_EventsArriveOneByOne_NotBuffered()
    {
        _gateway.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(150);
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), user: "erin"), HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];

        var first = await stream.ReadAsync(buffer);

        // With 8+ chunks 150 ms apart, a buffering proxy could not answer before the whole stream ended.
        var firstText = System.Text.Encoding.UTF8.GetString(buffer, 0, first);
        Assert.StartsWith("data: ", firstText, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", firstText, StringComparison.Ordinal);
        _gateway.Emulator.Faults.ChunkDelay = TimeSpan.Zero;
    }

    [Fact]
    public async Task ClientDisconnect_CancelsTheUpstreamRequest()
    {
        _gateway.Emulator.Faults.FirstByteDelay = TimeSpan.FromSeconds(20);
        var body = System.Text.Encoding.UTF8.GetBytes(GatewayHarness.ChatBody(stream: true));
        using (var client = new System.Net.Sockets.TcpClient())
        {
            // A raw connection, so "the client left" is exactly a closed socket.
            await client.ConnectAsync(_gateway.BaseAddress.Host, _gateway.BaseAddress.Port);
            var stream = client.GetStream();
            var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {GatewayHarness.ClientToken}\r\nX-KeyPool-User: leaver\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(body);
            await stream.FlushAsync();
            // Leave only once the request is at the upstream.
            var reached = DateTime.UtcNow.AddSeconds(10);
            while (!_gateway.LogLines.Any(l => l.StartsWith("Using model:", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < reached, "the request never reached the gateway's routing");
                await Task.Delay(20);
            }
        }

        // The upstream sees the request cancelled long before its 20 s answer: bounded wait for its record.
        var conversation = global::KeyPool.Proxy.ConversationId.For("leaver");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!_gateway.Emulator.Served.Any(s => s.ConversationId == conversation && s.Reason == "cancelled"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the upstream request was not cancelled: " + string.Join("; ", _gateway.Emulator.Served.Select(s => $"{s.Path} {s.Status} {s.Reason} {s.ConversationId}")));
            await Task.Delay(50);
        }
        _gateway.Emulator.Faults.FirstByteDelay = TimeSpan.Zero;
    }

    [Fact]
    public async Task Users_SpreadEvenly_AndEachStaysOnTheirKey()
    {
        var client = _gateway.ChatClient();
        var users = Enumerable.Range(0, 30).Select(i => $"spread-{i}").ToArray();

        foreach (var user in users)
        {
            await client.CompleteChatAsync([new UserChatMessage("hi")], GatewayHarness.ForUser(user));
        }
        foreach (var user in users)
        {
            await client.CompleteChatAsync([new UserChatMessage("again")], GatewayHarness.ForUser(user));
        }

        var groups = new Dictionary<string, int>();
        foreach (var user in users)
        {
            groups[user] = await _gateway.GroupOfAsync(user);
            Assert.Equal([groups[user], groups[user]], _gateway.GroupsThatServed(user));
        }
        var perGroup = groups.Values.GroupBy(g => g).Select(g => g.Count()).ToArray();
        Assert.Equal(6, perGroup.Length);
        Assert.True(perGroup.Max() - perGroup.Min() <= 1);
    }

    [Fact]
    public async Task Header_NamesTheUser_OverTheBodyField()
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"user\":\"body-user\""), user: "header-user"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = _gateway.Emulator.Served.Last();
        Assert.Equal(global::KeyPool.Proxy.ConversationId.For("header-user"), served.ConversationId);
        using var lookup = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users/body-user"));
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task ConversationId_FromTheClient_IsForwardedUnchanged()
    {
        var request = _gateway.ChatRequest(GatewayHarness.ChatBody(), user: "frank");
        request.Headers.Add("x-grok-conv-id", "conv-42");
        using var response = await _gateway.Http.SendAsync(request);

        Assert.Equal("conv-42", _gateway.Emulator.Served.Last().ConversationId);
    }

    [Fact]
    public async Task Models_ListedWithoutAUser()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new("Bearer", GatewayHarness.ClientToken);
        using var response = await _gateway.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var models = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("list", models.GetProperty("object").GetString());
        Assert.True(models.GetProperty("data").GetArrayLength() > 0);
    }

    [Fact]
    public async Task AllowedV1Paths_AreForwarded()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/embeddings")
        {
            Content = new StringContent("""{"model":"grok-3-mini","input":"hi","user":"gina"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", GatewayHarness.ClientToken);
        using var response = await _gateway.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("/embeddings", _gateway.Emulator.Served.Last().Path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EachRequest_LogsModelTierAndGroup()
    {
        await _gateway.ChatClient().CompleteChatAsync([new UserChatMessage("hi")], GatewayHarness.ForUser("harry"));
        var group = await _gateway.GroupOfAsync("harry");

        Assert.Contains($"Using model: grok-4.3 | Tier: free | API Key Group: {group}", _gateway.LogLines);
    }

    [Fact]
    public async Task Startup_LogsTheDetectedKeys()
    {
        await Task.CompletedTask;
        Assert.Contains(_gateway.LogLines, l => l.StartsWith("API Key Pool: Detected 6 available keys", StringComparison.Ordinal));
    }
}
