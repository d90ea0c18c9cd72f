using KeyPool.Emulator.Accounts;

namespace KeyPool.Emulator.Tests.Accounts;

public sealed class KeyRedactionTests
{
    [Theory]
    [InlineData("xai-abcdefgh-yz", "xa***yz")]
    [InlineData("short", "***")]
    public void ForError_ShowsTwoCharactersEachEnd(string key, string expected) =>
        Assert.Equal(expected, KeyRedaction.ForError(key));

    [Theory]
    [InlineData("xai-0123456789abcd", "xai-…abcd")]
    [InlineData("sk-short", "sk-…")]
    [InlineData("plainkeywithoutdash", "…dash")]
    public void ForApiKeyInfo_ShowsPrefixAndTail(string key, string expected) =>
        Assert.Equal(expected, KeyRedaction.ForApiKeyInfo(key));
}
