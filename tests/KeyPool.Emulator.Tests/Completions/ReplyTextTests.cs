using KeyPool.Emulator.Completions;

namespace KeyPool.Emulator.Tests.Completions;

public sealed class ReplyTextTests
{
    [Theory]
    [InlineData("abcdefghij", 3)]
    [InlineData("ab", 5)]
    [InlineData("", 1)]
    public void Split_PiecesConcatenateToTheText(string text, int count)
    {
        var pieces = ReplyText.Split(text, count);

        Assert.Equal(count, pieces.Length);
        Assert.Equal(text, string.Concat(pieces));
    }

    [Fact]
    public void Create_IsStablePerFingerprint()
    {
        var fingerprint = ReplyText.Fingerprint([("user", "hello")]);

        Assert.Equal(ReplyText.Create(fingerprint, 4), ReplyText.Create(ReplyText.Fingerprint([("user", "hello")]), 4));
        Assert.NotEqual(fingerprint, ReplyText.Fingerprint([("system", "hello")]));
    }
}
