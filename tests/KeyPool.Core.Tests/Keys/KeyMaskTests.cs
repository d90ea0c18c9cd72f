using KeyPool.Core.Keys;

namespace KeyPool.Core.Tests.Keys;

public sealed class KeyMaskTests
{
    [Theory]
    [InlineData("xai-ABCDEFGHIJKLMNOPQRSTa1b2", "xai-…a1b2")]
    [InlineData("sk-proj-abcdefghijklmnop9z9z", "sk-…9z9z")]
    [InlineData("plainkeywithoutprefix1234", "…1234")]
    [InlineData("xai-short", "xai-…")]
    [InlineData("", "…")]
    public void Mask_ShowsPrefixAndLastFour(string key, string expected) => Assert.Equal(expected, KeyMask.Mask(key));

    [Fact]
    public void UpstreamKey_ToString_NeverShowsTheSecret()
    {
        var key = new UpstreamKey(4, "xai-verysecretvalue-0000zz99");

        Assert.DoesNotContain("verysecret", key.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("verysecret", key.Masked, StringComparison.Ordinal);
        Assert.Equal("group 4 (xai-…zz99)", key.ToString());
    }
}
