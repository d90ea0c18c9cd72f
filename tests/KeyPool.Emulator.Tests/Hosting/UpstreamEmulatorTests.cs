using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Hosting;

public sealed class UpstreamEmulatorTests
{
    [Fact]
    public async Task StartAsync_PortZero_GivesLoopbackBaseUrlWithV1()
    {
        await using var emulator = await UpstreamEmulator.StartAsync(new EmulatorOptions { Keys = { "k-1234567890" } });

        Assert.Equal("127.0.0.1", emulator.BaseUrl.Host);
        Assert.NotEqual(0, emulator.BaseUrl.Port);
        Assert.Equal("/v1", emulator.BaseUrl.AbsolutePath);
        Assert.False(emulator.BaseUrl.ToString().EndsWith('/'));
    }

    [Fact]
    public async Task UnknownPath_Returns404XaiShape()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.PostAsync("images/generations", EmulatorHarness.KeyA, "{}");

        Assert.Equal(404, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("Some requested entity was not found", body.GetProperty("code").GetString());
        Assert.Equal(("/v1/images/generations", "not_found"), (h.Emulator.Served[0].Path, h.Emulator.Served[0].Reason));
    }

    [Fact]
    public async Task ClearServed_ForgetsRecords()
    {
        await using var h = await EmulatorHarness.StartAsync();
        using var _ = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());

        Assert.Equal(1, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
        h.Emulator.ClearServed();

        Assert.Empty(h.Emulator.Served);
        Assert.Equal(0, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_NamesEveryProblem()
    {
        var options = new EmulatorOptions { Keys = { "dup", "dup", "has space" }, RequestsPerMinute = 0, StreamChunks = 0 };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => UpstreamEmulator.StartAsync(options));

        Assert.Contains("Keys[1] repeats", error.Message);
        Assert.Contains("Keys[2]", error.Message);
        Assert.Contains("RequestsPerMinute", error.Message);
        Assert.Contains("StreamChunks", error.Message);
        Assert.DoesNotContain("dup", error.Message);
    }

    [Fact]
    public async Task WaitForShutdownAsync_ReturnsWhenCancelled()
    {
        await using var h = await EmulatorHarness.StartAsync();
        using var cts = new CancellationTokenSource();

        var waiting = h.Emulator.WaitForShutdownAsync(cts.Token);
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();

        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
