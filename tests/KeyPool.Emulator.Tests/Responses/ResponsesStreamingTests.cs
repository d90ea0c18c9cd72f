using System.Text.Json;
using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Responses;

public sealed class ResponsesStreamingTests
{
    private const string Body = """{"model":"grok-4.3","input":"Hello","stream":true}""";

    [Fact]
    public async Task Stream_TypedEventsInOrder_CompletedCarriesWholeResponseWithUsage_NoDone()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 3);

        var events = await StreamAsync(h, Body);

        Assert.Equal(
            [
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
            ],
            events.Select(e => e.Type));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Data.GetProperty("sequence_number").GetInt32()));
        Assert.Equal(JsonValueKind.Null, events[0].Data.GetProperty("response").GetProperty("usage").ValueKind);
        Assert.Equal("in_progress", events[0].Data.GetProperty("response").GetProperty("status").GetString());
        var text = string.Concat(events.Where(e => e.Type == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString()));
        Assert.Equal(text, events[7].Data.GetProperty("text").GetString());

        var completed = events[^1].Data.GetProperty("response");
        Assert.Equal("completed", completed.GetProperty("status").GetString());
        Assert.Equal(text, completed.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        var usage = completed.GetProperty("usage");
        var served = Assert.Single(h.Emulator.Served);
        Assert.Null(served.Reason);
        Assert.True(served.Stream);
        Assert.Equal(served.Usage!.InputTokens, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(served.Usage.OutputTokens, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(served.Usage.ReasoningTokens, usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(served.Usage.TotalTokens, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(served.Usage.CostInUsdTicks, usage.GetProperty("cost_in_usd_ticks").GetInt64());
        Assert.True(served.Usage.CostInUsdTicks > 0);
        Assert.Equal(0, usage.GetProperty("num_sources_used").GetInt32());
    }

    [Fact]
    public async Task Stream_Completed_IsStoredLikeAPlainAnswer()
    {
        await using var h = await EmulatorHarness.StartAsync();

        var events = await StreamAsync(h, Body);
        var id = events[^1].Data.GetProperty("response").GetProperty("id").GetString();

        using var stored = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyA);
        Assert.Equal(200, (int)stored.StatusCode);
        Assert.Equal(
            events[^1].Data.GetProperty("response").GetProperty("usage").GetProperty("total_tokens").GetInt32(),
            (await EmulatorHarness.JsonAsync(stored)).GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Stream_Truncated_EndsCleanlyWithoutCompleted()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 6);
        h.Emulator.Faults.TruncateStreamAfterChunks = 2;

        var events = await StreamAsync(h, Body);

        Assert.Equal(4 + 2, events.Count);
        Assert.DoesNotContain(events, e => e.Type == "response.completed");
        var served = Assert.Single(h.Emulator.Served);
        Assert.Equal((200, "truncated"), (served.Status, served.Reason));
        Assert.NotNull(served.Usage); // billed all the same
    }

    [Fact]
    public async Task Stream_Reset_ClosesConnectionAfterTheDeltasSent()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.StreamChunks = 6);
        h.Emulator.Faults.ResetMidStreamAfterChunks = 2;
        using var response = await h.PostAsync("responses", EmulatorHarness.KeyA, Body, completion: HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var received = new List<(string Type, JsonElement Data)>();

        await Assert.ThrowsAnyAsync<IOException>(() => EmulatorHarness.ReadTypedEventsAsync(stream, received));

        Assert.Equal(4 + 2, received.Count);
        Assert.Equal((200, "reset_mid_stream"), (Assert.Single(h.Emulator.Served).Status, h.Emulator.Served[0].Reason));
    }

    private static async Task<List<(string Type, JsonElement Data)>> StreamAsync(EmulatorHarness h, string body)
    {
        using var response = await h.PostAsync("responses", EmulatorHarness.KeyA, body, completion: HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync();
        return await EmulatorHarness.ReadTypedEventsAsync(stream);
    }
}
