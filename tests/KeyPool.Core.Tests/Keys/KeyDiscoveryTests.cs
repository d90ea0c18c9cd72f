using KeyPool.Core.Keys;

namespace KeyPool.Core.Tests.Keys;

public sealed class KeyDiscoveryTests
{
    private static KeyDiscoveryResult Discover(params (string Name, string? Value)[] variables) =>
        KeyDiscovery.Discover(variables.Select(v => new KeyValuePair<string, string?>(v.Name, v.Value)));

    [Fact]
    public void Discover_BarePrefixIsGroupOne_SuffixesAreTheirGroups()
    {
        var result = Discover(("XAI_API_KEY", "xai-aaaaaaaaaaaaaaaa1111"), ("XAI_API_KEY_2", "xai-bbbbbbbbbbbbbbbb2222"), ("XAI_API_KEY_31", "xai-cccccccccccccccc3333"));

        Assert.Equal([1, 2, 31], result.Keys.Groups);
        Assert.Equal("xai-bbbbbbbbbbbbbbbb2222", result.Keys.Find(2)!.Secret);
        Assert.Null(result.Keys.Find(3));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Discover_GapsStayGaps_NoRenumbering()
    {
        var result = Discover(("XAI_API_KEY_5", "xai-key-five-000000005"), ("XAI_API_KEY_9", "xai-key-nine-000000009"));

        Assert.Equal([5, 9], result.Keys.Groups);
        Assert.Null(result.Keys.Find(1));
        Assert.Equal(9, result.Keys.MaxGroup);
    }

    [Fact]
    public void Discover_AnyNumberOfKeys()
    {
        var variables = Enumerable.Range(1, 250).Select(n => (n == 1 ? "XAI_API_KEY" : $"XAI_API_KEY_{n}", (string?)$"xai-key-{n:D10}")).ToArray();

        Assert.Equal(250, Discover(variables).Keys.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void Discover_EmptyValue_CountsAsMissing(string? value)
    {
        var result = Discover(("XAI_API_KEY", "xai-real-key-00000001"), ("XAI_API_KEY_2", value));

        Assert.Equal([1], result.Keys.Groups);
    }

    [Theory]
    [InlineData("XAI_API_KEY_02")]
    [InlineData("XAI_API_KEY_0")]
    [InlineData("XAI_API_KEY_x")]
    [InlineData("XAI_API_KEY_")]
    [InlineData("XAI_API_KEY2")]
    [InlineData("XAI_API_KEYS")]
    [InlineData("OTHER_XAI_API_KEY")]
    [InlineData("XAI_API_KEY_-3")]
    public void Discover_NonCanonicalNames_AreNotKeys(string name)
    {
        Assert.Equal(0, Discover((name, "xai-some-key-000000001")).Keys.Count);
    }

    [Fact]
    public void Discover_SameKeyUnderTwoNames_IsReported_WithoutKeyMaterial()
    {
        const string shared = "xai-shared-secret-0000abcd";
        var result = Discover(("XAI_API_KEY", shared), ("XAI_API_KEY_2", "xai-other-secret-00001111"), ("XAI_API_KEY_7", shared));

        var duplicate = Assert.Single(result.DuplicateGroups);
        Assert.Equal([1, 7], duplicate);
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("1, 7", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(shared, warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Discover_SuffixOne_IsIgnoredWithWarning()
    {
        var result = Discover(("XAI_API_KEY", "xai-first-key-00000001"), ("XAI_API_KEY_1", "xai-other-key-00000002"));

        Assert.Equal("xai-first-key-00000001", result.Keys.Find(1)!.Secret);
        Assert.Single(result.Warnings);
    }

    [Fact]
    public void Discover_CustomPrefix_ForOtherProviders()
    {
        var variables = new[] { ("OPENAI_KEY", "sk-aaaaaaaaaaaaaaaaaaaa"), ("OPENAI_KEY_3", "sk-bbbbbbbbbbbbbbbbbbbb"), ("XAI_API_KEY", "xai-ignored-000000000") }
            .Select(v => new KeyValuePair<string, string?>(v.Item1, v.Item2));

        var result = KeyDiscovery.Discover(variables, "OPENAI_KEY");

        Assert.Equal([1, 3], result.Keys.Groups);
    }

    [Fact]
    public void Discover_TrimsWhitespaceAroundValues()
    {
        Assert.Equal("xai-padded-key-0000001", Discover(("XAI_API_KEY", "  xai-padded-key-0000001\n")).Keys.Find(1)!.Secret);
    }
}
