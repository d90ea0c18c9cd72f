using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Models;

public sealed class ModelsEndpointTests
{
    [Fact]
    public async Task Models_ListsConfiguredModelsInOpenAiShape()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.GetAsync("models", EmulatorHarness.KeyA);

        Assert.Equal(200, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(EmulatorOptions.DefaultModels, data.Select(m => m.GetProperty("id").GetString()));
        Assert.All(data, m =>
        {
            Assert.Equal("model", m.GetProperty("object").GetString());
            Assert.Equal("xai", m.GetProperty("owned_by").GetString());
            Assert.True(m.GetProperty("created").GetInt64() > 0);
        });
    }

    [Fact]
    public async Task Models_ConfiguredList_OneModelAndUnknownModel()
    {
        await using var h = await EmulatorHarness.StartAsync(o =>
        {
            o.Models.Clear();
            o.Models.Add("grok-test");
        });

        var list = await EmulatorHarness.JsonAsync(await h.GetAsync("models", EmulatorHarness.KeyA));
        var one = await EmulatorHarness.JsonAsync(await h.GetAsync("models/grok-test", EmulatorHarness.KeyA));
        using var missing = await h.GetAsync("models/grok-0", EmulatorHarness.KeyA);

        Assert.Equal("grok-test", Assert.Single(list.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal("grok-test", one.GetProperty("id").GetString());
        Assert.Equal(404, (int)missing.StatusCode);
    }

    [Fact]
    public async Task Models_NeedAKey()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.GetAsync("models", null);

        Assert.Equal(401, (int)response.StatusCode);
    }
}
