using System.Text.Json.Nodes;
using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Completions;

public sealed class ChatCompletionsTests
{
    [Fact]
    public async Task Chat_NonStream_HasOpenAiShapeAndXaiUsage()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-3-mini", "Hello there"));

        Assert.Equal(200, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal(h.Time.GetUtcNow().ToUnixTimeSeconds(), body.GetProperty("created").GetInt64());
        Assert.Equal("grok-3-mini", body.GetProperty("model").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("system_fingerprint").GetString()));
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.StartsWith("Emulated reply ", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());

        var usage = body.GetProperty("usage");
        Assert.Equal(3 + 4, usage.GetProperty("prompt_tokens").GetInt32()); // ceil(11 / 4) + 4 per message
        Assert.Equal(16, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(23, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.True(usage.GetProperty("cost_in_usd_ticks").GetInt64() > 0);
    }

    [Theory]
    [InlineData("grok-4.3", 32)]
    [InlineData("grok-4-fast-reasoning", 32)]
    [InlineData("some-reasoning-model", 32)]
    [InlineData("grok-4-fast-non-reasoning", 0)]
    [InlineData("grok-3-mini", 0)]
    public async Task Chat_ReasoningTokens_ComeOnTopOfCompletion(string model, int reasoning)
    {
        await using var h = await EmulatorHarness.StartAsync();

        var usage = (await EmulatorHarness.JsonAsync(await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(model)))).GetProperty("usage");

        var prompt = usage.GetProperty("prompt_tokens").GetInt32();
        var completion = usage.GetProperty("completion_tokens").GetInt32();
        Assert.Equal(16, completion);
        Assert.Equal(reasoning, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(prompt + completion + reasoning, usage.GetProperty("total_tokens").GetInt32());
    }

    [Theory]
    [InlineData("max_tokens", 5, 5)]
    [InlineData("max_completion_tokens", 3, 3)]
    [InlineData("max_tokens", 500, 16)]
    public async Task Chat_MaxTokens_IsCappedByCompletionTokens(string field, int requested, int expected)
    {
        await using var h = await EmulatorHarness.StartAsync();
        var body = EmulatorHarness.ChatBody();
        body[field] = requested;

        var usage = (await EmulatorHarness.JsonAsync(await h.PostChatAsync(EmulatorHarness.KeyA, body))).GetProperty("usage");

        Assert.Equal(expected, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_PromptTokens_CountEveryMessageAndContentParts()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var body = new JsonObject
        {
            ["model"] = "grok-3-mini",
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = "You are terse." }, // 14 chars
                new JsonObject
                {
                    ["role"] = "user",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "abcdefghij" }), // 10 chars
                }),
        };

        var usage = (await EmulatorHarness.JsonAsync(await h.PostChatAsync(EmulatorHarness.KeyA, body))).GetProperty("usage");

        Assert.Equal(6 + 8, usage.GetProperty("prompt_tokens").GetInt32()); // ceil(24 / 4) + 2 × 4
    }

    [Fact]
    public async Task Chat_SameMessages_SameContent_OtherMessages_OtherContent()
    {
        await using var h = await EmulatorHarness.StartAsync();

        var first = await ContentAsync(h, EmulatorHarness.KeyA, "What is KeyPool?");
        var again = await ContentAsync(h, EmulatorHarness.KeyB, "What is KeyPool?");
        var other = await ContentAsync(h, EmulatorHarness.KeyA, "What is a key?");

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Equal(16, first.Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Chat_SameConversation_ReportsCachedPrefix()
    {
        await using var h = await EmulatorHarness.StartAsync();

        var first = await UsageAsync(h, EmulatorHarness.ChatBody(content: new string('a', 40)), "conv-1");
        var second = await UsageAsync(h, EmulatorHarness.ChatBody(content: new string('a', 80)), "conv-1");
        var shorter = await UsageAsync(h, EmulatorHarness.ChatBody(content: "a"), "conv-1");
        var otherConversation = await UsageAsync(h, EmulatorHarness.ChatBody(content: new string('a', 80)), "conv-2");
        var noConversation = await UsageAsync(h, EmulatorHarness.ChatBody(content: new string('a', 80)), null);

        Assert.Equal(0, Cached(first));
        Assert.Equal(first.GetProperty("prompt_tokens").GetInt32(), Cached(second)); // 14 of 24
        Assert.Equal(shorter.GetProperty("prompt_tokens").GetInt32(), Cached(shorter)); // capped at this prompt
        Assert.Equal(0, Cached(otherConversation));
        Assert.Equal(0, Cached(noConversation));
    }

    [Fact]
    public async Task Chat_RecordsUserAndConversation()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var body = EmulatorHarness.ChatBody();
        body["user"] = "alice";

        using var _ = await h.PostChatAsync(EmulatorHarness.KeyA, body, "conv-42");

        var served = Assert.Single(h.Emulator.Served);
        Assert.Equal(
            new ServedRequest(EmulatorHarness.KeyA, "/v1/chat/completions", "grok-3-mini", false, 200, "alice", "conv-42", h.Time.GetUtcNow(), null) { Headers = served.Headers, Usage = served.Usage },
            served);
        Assert.Equal("conv-42", served.Headers["x-grok-conv-id"]);
        Assert.False(served.Headers.ContainsKey("Authorization")); // the key is recorded once, as Key
        Assert.Equal(new ServedUsage(7, 0, 16, 0, 23, 94_000), served.Usage);
    }

    [Theory]
    [InlineData("{not json", 400)]
    [InlineData("", 400)]
    [InlineData("[]", 422)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", 422)]
    [InlineData("""{"model":"grok-3-mini"}""", 422)]
    [InlineData("""{"model":42,"messages":[{"role":"user","content":"hi"}]}""", 422)]
    [InlineData("""{"model":"grok-3-mini","messages":[]}""", 400)]
    [InlineData("""{"model":"grok-3-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", 400)]
    public async Task Chat_BadBody_AnswersXaiError(string body, int status)
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("chat/completions", EmulatorHarness.KeyA, body);

        Assert.Equal(status, (int)response.StatusCode);
        var json = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("Client specified an invalid argument", json.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()));
        Assert.Equal(0, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
    }

    [Fact]
    public async Task Chat_MissingModelField_NamesIt()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("chat/completions", EmulatorHarness.KeyA, """{"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Contains("missing field `model`", (await EmulatorHarness.JsonAsync(response)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Chat_WithoutJsonContentType_Returns415()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("chat/completions", EmulatorHarness.KeyA, EmulatorHarness.ChatBody().ToJsonString(), contentType: "text/plain");

        Assert.Equal(415, (int)response.StatusCode);
    }

    [Fact]
    public async Task Chat_RejectUnknownModels_Returns404()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.RejectUnknownModels = true);

        using var unknown = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-0"));
        using var known = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-4.3"));

        Assert.Equal(404, (int)unknown.StatusCode);
        Assert.Equal(200, (int)known.StatusCode);
    }

    private static async Task<string> ContentAsync(EmulatorHarness h, string key, string prompt)
    {
        var body = await EmulatorHarness.JsonAsync(await h.PostChatAsync(key, EmulatorHarness.ChatBody(content: prompt)));
        return body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    private static async Task<System.Text.Json.JsonElement> UsageAsync(EmulatorHarness h, JsonNode body, string? conversation) =>
        (await EmulatorHarness.JsonAsync(await h.PostChatAsync(EmulatorHarness.KeyA, body, conversation))).GetProperty("usage");

    private static int Cached(System.Text.Json.JsonElement usage) =>
        usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
}
