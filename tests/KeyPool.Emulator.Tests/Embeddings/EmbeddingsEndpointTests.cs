using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Embeddings;

public sealed class EmbeddingsEndpointTests
{
    [Fact]
    public async Task Embeddings_AnswersOneVectorPerInputWithUsage()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("embeddings", EmulatorHarness.KeyA, """{"model":"v1","input":["abcd","efghijkl"]}""");

        Assert.Equal(200, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        Assert.Equal([0, 1], data.Select(d => d.GetProperty("index").GetInt32()));
        Assert.All(data, d => Assert.NotEmpty(d.GetProperty("embedding").EnumerateArray()));
        Assert.Equal(3 + 2, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // ceil(12 / 4) + 1 per input
        Assert.Equal(5, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }
}
