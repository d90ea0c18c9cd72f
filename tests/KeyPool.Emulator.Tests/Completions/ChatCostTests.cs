using System.Text.Json;
using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Completions;

public sealed class ChatCostTests
{
    [Fact]
    public async Task Chat_EveryAnswerCarriesCost_AndServedRecordsTheSameUsage()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var plain = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-4.3"));
        var events = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-4.3", stream: true, includeUsage: true));
        var streamed = await h.StreamChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody("grok-4.3", stream: true));

        var plainUsage = (await EmulatorHarness.JsonAsync(plain)).GetProperty("usage");
        using var usageChunk = JsonDocument.Parse(events[^2]);
        var streamUsage = usageChunk.RootElement.GetProperty("usage");
        var served = h.Emulator.Served;
        Assert.Equal(3, served.Count);
        AssertSame(served[0].Usage!, plainUsage);
        AssertSame(served[1].Usage!, streamUsage);
        Assert.NotNull(served[2].Usage); // billed even when the client did not ask to see it
        Assert.Equal(served[0].Usage!.CostInUsdTicks * 3, ServedUsage.Sum(served).CostInUsdTicks);
    }

    [Fact]
    public async Task Chat_CachedTokensCostLess()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var first = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(), conversationId: "c1");
        using var second = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody(), conversationId: "c1");

        var (a, b) = (h.Emulator.Served[0].Usage!, h.Emulator.Served[1].Usage!);
        Assert.Equal(0, a.CachedTokens);
        Assert.Equal(a.InputTokens, b.CachedTokens);
        Assert.True(b.CostInUsdTicks < a.CostInUsdTicks);
    }

    private static void AssertSame(ServedUsage served, JsonElement usage)
    {
        Assert.Equal(served.InputTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(served.CachedTokens, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(served.OutputTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(served.ReasoningTokens, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(served.TotalTokens, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(served.CostInUsdTicks, usage.GetProperty("cost_in_usd_ticks").GetInt64());
        Assert.True(served.CostInUsdTicks > 0);
    }
}
