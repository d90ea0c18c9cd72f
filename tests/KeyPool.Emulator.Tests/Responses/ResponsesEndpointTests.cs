using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Responses;

public sealed class ResponsesEndpointTests
{
    [Fact]
    public async Task Responses_AnswersWithOutputTextAndUsage()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("responses", EmulatorHarness.KeyA,
            """{"model":"grok-4.3","instructions":"Be brief.","input":"Hello","max_output_tokens":4,"user":"bob"}""");

        Assert.Equal(200, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("response", body.GetProperty("object").GetString());
        Assert.Equal("completed", body.GetProperty("status").GetString());
        var text = body.GetProperty("output")[0].GetProperty("content")[0];
        Assert.Equal("output_text", text.GetProperty("type").GetString());
        Assert.StartsWith("Emulated reply ", text.GetProperty("text").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(4 + 2 * 4, usage.GetProperty("input_tokens").GetInt32()); // ceil(14 / 4) + 2 messages
        Assert.Equal(4, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(8, usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(12 + 4 + 8, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal("bob", Assert.Single(h.Emulator.Served).User);
        Assert.NotEmpty(EmulatorHarness.Header(response, "x-ratelimit-remaining-tokens"));
    }

    [Fact]
    public async Task Responses_MissingInput_Returns422()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("responses", EmulatorHarness.KeyA, """{"model":"grok-4.3"}""");

        Assert.Equal(422, (int)response.StatusCode);
    }
}
