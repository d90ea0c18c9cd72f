using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Accounts;

public sealed class AuthenticationTests
{
    [Fact]
    public async Task Chat_UnknownKey_Returns400WithXaiBodyAndMaskedKey()
    {
        await using var h = await EmulatorHarness.StartAsync();
        const string unknown = "xai-unknown-secret-key-9xyz";

        using var response = await h.PostChatAsync(unknown, EmulatorHarness.ChatBody());

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(unknown, text);
        Assert.DoesNotContain("secret", text);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("Client specified an invalid argument", body.GetProperty("code").GetString());
        Assert.Equal(
            "Incorrect API key provided: xa***yz. You can obtain an API key from the console.",
            body.GetProperty("error").GetString());
        Assert.NotEmpty(EmulatorHarness.Header(response, "x-request-id"));
        var served = Assert.Single(h.Emulator.Served);
        Assert.Equal((unknown, 400, "invalid_key"), (served.Key, served.Status, served.Reason));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Basic abc")]
    [InlineData("Bearer ")]
    [InlineData("Bearer two words")]
    public async Task Chat_MissingOrGarbledAuthorization_Returns401(string? header)
    {
        await using var h = await EmulatorHarness.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "chat/completions")
        {
            Content = new StringContent(EmulatorHarness.ChatBody().ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", header);
        }

        using var response = await h.Client.SendAsync(request);

        Assert.Equal(401, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.True(body.TryGetProperty("code", out _));
        Assert.True(body.TryGetProperty("error", out _));
        Assert.Equal("unauthenticated", Assert.Single(h.Emulator.Served).Reason);
    }

    [Fact]
    public async Task Revoke_AnswersIncorrectKey_RestoreBringsItBack()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.Revoke(EmulatorHarness.KeyA);

        using var revoked = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());
        using var other = await h.PostChatAsync(EmulatorHarness.KeyB, EmulatorHarness.ChatBody());
        h.Emulator.Faults.Restore(EmulatorHarness.KeyA);
        using var restored = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());

        Assert.Equal(400, (int)revoked.StatusCode);
        Assert.StartsWith("Incorrect API key provided: xa***01.", (await EmulatorHarness.JsonAsync(revoked)).GetProperty("error").GetString());
        Assert.Equal(200, (int)other.StatusCode);
        Assert.Equal(200, (int)restored.StatusCode);
        Assert.Equal(["revoked", null, null], h.Emulator.Served.Select(s => s.Reason));
        Assert.Equal(1, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
    }

    [Fact]
    public async Task Block_Answers403()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.Block(EmulatorHarness.KeyA);

        using var response = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());

        Assert.Equal(403, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("The caller does not have permission to execute the specified operation", body.GetProperty("code").GetString());
        Assert.DoesNotContain(EmulatorHarness.KeyA, body.GetProperty("error").GetString());
        Assert.Equal("blocked", Assert.Single(h.Emulator.Served).Reason);
    }

    [Fact]
    public async Task ExhaustCredits_Answers429WithSpendingLimitMessage()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.ExhaustCredits(EmulatorHarness.KeyA);

        using var response = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());

        Assert.Equal(429, (int)response.StatusCode);
        var body = await EmulatorHarness.JsonAsync(response);
        Assert.Equal("Some resource has been exhausted", body.GetProperty("code").GetString());
        Assert.Contains("used all available credits or reached its monthly spending limit", body.GetProperty("error").GetString());
        Assert.Equal("credits_exhausted", Assert.Single(h.Emulator.Served).Reason);
    }
}
