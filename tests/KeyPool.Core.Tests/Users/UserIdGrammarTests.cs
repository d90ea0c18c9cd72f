using KeyPool.Core.Users;

namespace KeyPool.Core.Tests.Users;

public sealed class UserIdGrammarTests
{
    [Theory]
    [InlineData("alice")]
    [InlineData("user-42_a.b:c~d")]
    [InlineData("ann@example.com")]
    [InlineData("Zoë Müller")]
    [InlineData("用户一")]
    [InlineData("...")]
    [InlineData("a..b")]
    [InlineData("=HYPERLINK(\"x\")")] // harmless here; the CSV export neutralises it
    [InlineData("e\u0301")] // a letter and its combining accent
    [InlineData("😀")] // a surrogate pair
    public void Valid(string id) => Assert.Null(UserIdGrammar.Problem(id));

    [Theory]
    [InlineData("", "empty")]
    [InlineData(".", "\".\" or \"..\"")]
    [InlineData("..", "\".\" or \"..\"")]
    [InlineData("victim/one", "'/'")]
    [InlineData("victim%2Fone", "'%'")]
    [InlineData("a\\b", "'/'")]
    [InlineData("bad\u0001user", "control")]
    [InlineData("line\r\nforged", "control")]
    [InlineData("esc\u001b[2K", "control")]
    [InlineData(" alice", "white space")]
    [InlineData("alice\t", "white space")]
    [InlineData("   ", "white space")]
    [InlineData("\u200B\u200C\u200D", "visible")]
    [InlineData("\u200E\u200F\uFEFF", "visible")]
    [InlineData("admin\u202Egnp", "bidi")]
    [InlineData("\u2066x\u2069", "bidi")]
    public void Invalid_SaysWhy(string id, string reason)
    {
        var problem = UserIdGrammar.Problem(id);

        Assert.NotNull(problem);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
        Assert.False(UserIdGrammar.IsValid(id));
    }

    [Fact]
    public void LoneSurrogates_AreNotWellFormed()
    {
        Assert.Contains("well-formed", UserIdGrammar.Problem("lone" + (char)0xD800), StringComparison.Ordinal);
        Assert.Contains("well-formed", UserIdGrammar.Problem(((char)0xDC00).ToString()), StringComparison.Ordinal);
    }

    [Fact]
    public void Length_AtMost256()
    {
        Assert.True(UserIdGrammar.IsValid(new string('u', 256)));
        Assert.Contains("longer than 256", UserIdGrammar.Problem(new string('u', 257)), StringComparison.Ordinal);
    }
}
