using System.Text.Json;
using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Completions;

public sealed class StreamingTests
{
    [Fact]
    public async Task Stream_WithoutIncludeUsage_RoleContentFinishDone()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 5);

        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true));

        Assert.Equal(1 + 5 + 1 + 1, events.Count);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(Parse).ToList();
        Assert.All(chunks, c =>
        {
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal(chunks[0].GetProperty("id").GetString(), c.GetProperty("id").GetString());
            Assert.Equal(chunks[0].GetProperty("created").GetInt64(), c.GetProperty("created").GetInt64());
            Assert.Equal("grok-3-mini", c.GetProperty("model").GetString());
            Assert.False(c.TryGetProperty("usage", out _));
        });
        Assert.Equal("assistant", Delta(chunks[0]).GetProperty("role").GetString());
        Assert.All(chunks[1..6], c =>
        {
            Assert.True(Delta(c).TryGetProperty("content", out _));
            Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
        });
        Assert.Equal("stop", chunks[6].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Empty(Delta(chunks[6]).EnumerateObject());
        var served = Assert.Single(h.Emulator.Served);
        Assert.True(served.Stream);
        Assert.Null(served.Reason);
    }

    [Fact]
    public async Task Stream_WithIncludeUsage_SendsUsageChunkWithoutChoicesBeforeDone()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 3);

        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-4.3", stream: true, includeUsage: true));

        Assert.Equal(1 + 3 + 1 + 1 + 1, events.Count);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("stop", Parse(events[^3]).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usageChunk = Parse(events[^2]);
        Assert.Empty(usageChunk.GetProperty("choices").EnumerateArray());
        var usage = usageChunk.GetProperty("usage");
        Assert.Equal(
            usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32()
                + usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32(),
            usage.GetProperty("total_tokens").GetInt32());
        Assert.All(events[..^2].Select(Parse), c => Assert.False(c.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task Stream_ConcatenatedContent_EqualsNonStreamContent()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 100);

        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(content: "same prompt", stream: true));
        var whole = await EmulatorHarness.JsonAsync(await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(content: "same prompt")));

        var streamed = string.Concat(events[..^1].Select(Parse)
            .Select(c => Delta(c).TryGetProperty("content", out var t) ? t.GetString() : ""));
        Assert.Equal(102 + 1, events.Count);
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), streamed);
    }

    [Fact]
    public async Task Stream_ResetMidStream_AbortsAfterNChunks()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 8);
        h.Emulator.Faults.ResetMidStreamAfterChunks = 3;
        using var response = await h.PostAsync(
            "chat/completions", EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true).ToJsonString(),
            completion: HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var received = new List<string>();

        await Assert.ThrowsAnyAsync<IOException>(() => EmulatorHarness.ReadEventsAsync(stream, received.Add));

        Assert.Equal(1 + 3, received.Count); // the role chunk, then three content chunks
        Assert.DoesNotContain("[DONE]", received);
        var served = Assert.Single(h.Emulator.Served);
        Assert.Equal((200, "reset_mid_stream"), (served.Status, served.Reason));
        Assert.Equal(0, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
    }

    [Fact]
    public async Task Stream_ResetBeyondChunkCount_DoesNotReset()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 2);
        h.Emulator.Faults.ResetMidStreamAfterChunks = 3;

        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true));

        Assert.Equal("[DONE]", events[^1]);
        Assert.Null(Assert.Single(h.Emulator.Served).Reason);
    }

    [Fact]
    public async Task Stream_TruncatedAfterNChunks_EndsCleanlyWithoutFinishUsageOrDone()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 8);
        h.Emulator.Faults.TruncateStreamAfterChunks = 3;

        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true)); // no IOException: a clean end

        Assert.Equal(1 + 3, events.Count);
        Assert.DoesNotContain("[DONE]", events);
        var served = Assert.Single(h.Emulator.Served);
        Assert.Equal((200, "truncated"), (served.Status, served.Reason));
        Assert.Equal(0, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
    }

    [Fact]
    public async Task ResetBeforeFirstByte_NoStatusLine_OnlyForTheNextRequest()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.ResetNextBeforeFirstByte(1);

        await Assert.ThrowsAsync<HttpRequestException>(() => h.PostAsync("chat/completions", EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true).ToJsonString()));
        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true));

        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal([(0, "reset_before_first_byte"), (200, null)], h.Emulator.Served.Select(s => (s.Status, s.Reason)).ToArray());
    }

    [Theory]
    [InlineData(true, "text/event-stream")]
    [InlineData(false, "application/json")]
    public async Task Garbled_RightContentType_NeitherJsonNorEvents(bool stream, string contentType)
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.GarbleNext(1);

        using var response = await h.PostAsync("chat/completions", EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: stream).ToJsonString());
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(body));
        Assert.DoesNotContain("\n\n", System.Text.Encoding.Latin1.GetString(body), StringComparison.Ordinal);
        Assert.Equal("garbled", Assert.Single(h.Emulator.Served).Reason);
    }

    private static JsonElement Parse(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        return document.RootElement.Clone();
    }

    private static JsonElement Delta(JsonElement chunk) => chunk.GetProperty("choices")[0].GetProperty("delta");
}
