using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Emulator;
using KeyPool.Tests.Infrastructure;
using OpenAI;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the SDK marks its Responses client experimental

namespace KeyPool.Tests.Usage;

/// <summary>
/// Usage of the Responses API and of deferred chat completions, end to end with the official SDK: what each user and
/// each key group is charged equals what the emulator served, plain and streamed, and a cut stream ends in the
/// grammar's own <c>error</c> event.
/// </summary>
public sealed class ResponsesUsageTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 3, emulator: o => o.StreamChunks = 4);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Responses_PlainAndStreamed_ThroughTheSdk_UsageEqualsWhatTheEmulatorServed()
    {
        var client = ResponsesClient();

        var plain = await client.CreateResponseAsync(Options("alice", "Hello there, how are you?"));
        var streamedText = new StringBuilder();
        ResponseResult? completed = null;
        await foreach (var update in await client.CreateResponseStreamingAsync(Options("alice", "Tell me about lighthouses.", stream: true)))
        {
            Assert.IsNotType<StreamingResponseErrorUpdate>(update);
            switch (update)
            {
                case StreamingResponseOutputTextDeltaUpdate delta:
                    streamedText.Append(delta.Delta);
                    break;
                case StreamingResponseCompletedUpdate done:
                    completed = done.Response;
                    break;
            }
        }
        await client.CreateResponseAsync(Options("alice", "And then?", previous: plain.Value.Id));
        await client.CreateResponseAsync(Options("bob", "Something else entirely, and longer than the others."));

        Assert.NotNull(completed);
        Assert.Equal(completed.GetOutputText(), streamedText.ToString());
        var served = Served("/v1/responses");
        Assert.Equal(4, served.Length);
        Assert.All(served, s => Assert.Null(s.Reason));
        AssertUsage(served[0].Usage!, plain.Value.Usage);
        AssertUsage(served[1].Usage!, completed.Usage);
        Assert.True(served[2].Usage!.CachedTokens > 0, "a follow-up's history is billed again, mostly cached");

        Assert.Equal(Sum(served[0], served[1], served[2]), await UserCountsAsync("alice"));
        Assert.Equal(Sum(served[3]), await UserCountsAsync("bob"));
        Assert.Equal(Sum(served), await GroupCountsAsync());
        Assert.True(Sum(served).CostTicks > 0);
    }

    [Fact]
    public async Task Chat_PlainAndStreamed_CostPerUserGroupAndInMetrics_EqualsWhatTheEmulatorBilled()
    {
        var chat = _gateway.ChatClient();
        await chat.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("Hello")], GatewayHarness.ForUser("frank"));
        await foreach (var _ in chat.CompleteChatStreamingAsync([new OpenAI.Chat.UserChatMessage("Stream this")], GatewayHarness.ForUser("frank")))
        {
        }

        var served = Served("/v1/chat/completions");
        Assert.Equal(2, served.Length);
        var billed = Sum(served);
        Assert.Equal(billed, await UserCountsAsync("frank"));
        Assert.Equal(billed, await GroupCountsAsync());
        var top = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users?by=cost"));
        var first = (await top.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("users")[0];
        Assert.Equal(("frank", billed.CostTicks), (first.GetProperty("id").GetString(), first.GetProperty("costTicks").GetInt64()));
        Assert.Equal((decimal)billed.CostTicks / 10_000_000_000m, first.GetProperty("costUsd").GetDecimal());
        Assert.False(first.GetProperty("costEstimated").GetBoolean());

        using var metrics = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/metrics"));
        var text = await metrics.Content.ReadAsStringAsync();
        var costLines = text.Split('\n').Where(l => l.StartsWith("keypool_cost_usd_total{", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(costLines);
        var usd = costLines.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((double)billed.CostTicks / 1e10, usd, 9);
    }

    [Fact]
    public async Task DeferredChat_ThePollThatHandsOutTheAnswer_IsCharged()
    {
        using var accepted = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody("Think slowly", extra: "\"deferred\":true"), "carol"));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var requestId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("request_id").GetString();

        using var poll = new HttpRequestMessage(HttpMethod.Get, $"/v1/chat/deferred-completion/{requestId}");
        poll.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayHarness.ClientToken);
        poll.Headers.Add("X-KeyPool-User", "carol");
        using var answer = await _gateway.Http.SendAsync(poll);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var usage = (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage");
        var served = _gateway.ChatServed.Where(s => s.Usage is not null).ToArray();
        var billed = Assert.Single(served);
        Assert.StartsWith("/v1/chat/deferred-completion/", billed.Path);
        Assert.Equal(billed.Usage!.TotalTokens, usage.GetProperty("total_tokens").GetInt32());
        var carol = await UserCountsAsync("carol");
        Assert.Equal(2, carol.Requests); // the request and its poll
        Assert.Equal(Sum(billed) with { Requests = 2 }, carol);
        Assert.Equal(Sum(billed) with { Requests = 2 }, await GroupCountsAsync());
    }

    [Fact]
    public async Task Responses_CutStream_EndsWithAnErrorEventInTheGrammar_AndIsNotCountedAsComplete()
    {
        _gateway.Emulator.Faults.TruncateStreamAfterChunks = 2;
        using var request = _gateway.ChatRequest("""{"model":"grok-4.3","input":"Hello","stream":true}""", "dave");
        request.RequestUri = new Uri("/v1/responses", UriKind.Relative);

        using var response = await _gateway.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4 + 2 + 1, events.Length); // created, in_progress, item added, part added, two deltas, then the error
        Assert.DoesNotContain("response.completed", body, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
        var last = events[^1].Split('\n');
        Assert.Equal("event: error", last[0]);
        using var error = JsonDocument.Parse(last[1]["data: ".Length..]);
        Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
        Assert.Equal(6, error.RootElement.GetProperty("sequence_number").GetInt32()); // after 0…5
        Assert.Equal("upstream_stream_failed", error.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Responses_RawStream_PassesAsTheUpstreamEndedIt_AndCountsForTheUser()
    {
        using var request = _gateway.ChatRequest("""{"model":"grok-4.3","input":"Hello","stream":true}""", "erin");
        request.RequestUri = new Uri("/v1/responses", UriKind.Relative);

        using var response = await _gateway.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("\n\n", body, StringComparison.Ordinal);
        Assert.Contains("event: response.completed", body, StringComparison.Ordinal);
        Assert.Equal(Sum(Served("/v1/responses")), await UserCountsAsync("erin"));
    }

    private ResponsesClient ResponsesClient() =>
        new OpenAIClient(new ApiKeyCredential(GatewayHarness.ClientToken), new OpenAIClientOptions
        {
            Endpoint = new Uri(_gateway.BaseAddress, "/v1"),
            NetworkTimeout = TimeSpan.FromSeconds(30),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0),
        }).GetResponsesClient();

    private static CreateResponseOptions Options(string user, string text, string? previous = null, bool stream = false)
    {
        var options = new CreateResponseOptions
        {
            Model = "grok-4.3",
            EndUserId = user,
            PreviousResponseId = previous,
            StreamingEnabled = stream,
        };
        options.InputItems.Add(ResponseItem.CreateUserMessageItem(text));
        return options;
    }

    private ServedRequest[] Served(string path) => _gateway.ChatServed.Where(s => s.Path == path).ToArray();

    private static void AssertUsage(ServedUsage served, ResponseTokenUsage usage)
    {
        Assert.Equal(served.InputTokens, usage.InputTokenCount);
        Assert.Equal(served.CachedTokens, usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal(served.OutputTokens, usage.OutputTokenCount);
        Assert.Equal(served.ReasoningTokens, usage.OutputTokenDetails.ReasoningTokenCount);
        Assert.Equal(served.TotalTokens, usage.TotalTokenCount);
    }

    private static Counts Sum(params ServedRequest[] served)
    {
        var usage = ServedUsage.Sum(served);
        return new Counts(served.Length, usage.InputTokens, usage.OutputTokens, usage.ReasoningTokens, usage.CachedTokens, usage.TotalTokens, usage.CostInUsdTicks);
    }

    private async Task<Counts> UserCountsAsync(string user)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, $"/api/admin/users/{user}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var today = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage").GetProperty("today");
        return new Counts(
            today.GetProperty("requests").GetInt64(),
            today.GetProperty("promptTokens").GetInt64(),
            today.GetProperty("completionTokens").GetInt64(),
            today.GetProperty("reasoningTokens").GetInt64(),
            today.GetProperty("cachedTokens").GetInt64(),
            today.GetProperty("totalTokens").GetInt64(),
            today.GetProperty("costTicks").GetInt64());
    }

    /// <summary>Every key group together, from health.</summary>
    private async Task<Counts> GroupCountsAsync()
    {
        var groups = (await _gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray().ToArray();
        long Total(string name) => groups.Sum(g => g.GetProperty(name).GetInt64());
        return new Counts(
            Total("total_requests"),
            Total("prompt_tokens"),
            Total("completion_tokens"),
            Total("reasoning_tokens"),
            Total("cached_tokens"),
            Total("total_tokens"),
            groups.Sum(g => g.GetProperty("cost").GetProperty("cost_ticks").GetInt64()));
    }

    private readonly record struct Counts(long Requests, long PromptTokens, long CompletionTokens, long ReasoningTokens, long CachedTokens, long TotalTokens, long CostTicks);
}
