using System.Globalization;
using System.Text;

namespace KeyPool.Core.Users;

/// <summary>
/// What a user id may be, the same at every entry (request header and body, JWT subject, gateway key, admin API,
/// import): 1 to 256 UTF-16 characters of well-formed text with no control character, no <c>/</c>, <c>\</c> or <c>%</c>
/// (a path segment and its encoded form must name one user), not <c>.</c> or <c>..</c>, no leading or trailing white
/// space, no bidi embedding, override or isolate characters (they make one id look like another), and at least one
/// visible character (not only white space, zero-width or other format characters).
/// </summary>
public static class UserIdGrammar
{
    /// <summary>The longest id, in UTF-16 characters.</summary>
    public const int MaxLength = 256;

    /// <summary>Why <paramref name="userId"/> is not a valid id, or null when it is.</summary>
    public static string? Problem(string? userId)
    {
        if (string.IsNullOrEmpty(userId))
        {
            return "The user id is empty.";
        }
        if (userId.Length > MaxLength)
        {
            return $"The user id is longer than {MaxLength} characters.";
        }
        if (userId is "." or "..")
        {
            return "The user id must not be \".\" or \"..\".";
        }
        if (char.IsWhiteSpace(userId[0]) || char.IsWhiteSpace(userId[^1]))
        {
            return "The user id must not start or end with white space.";
        }
        if (!IsWellFormed(userId))
        {
            return "The user id is not well-formed text (a lone surrogate).";
        }
        var visible = false;
        foreach (var rune in userId.EnumerateRunes())
        {
            if (Rune.IsControl(rune))
            {
                return "The user id must not contain control characters.";
            }
            if (rune.Value is '/' or '\\' or '%')
            {
                return "The user id must not contain '/', '\\' or '%'.";
            }
            if (rune.Value is (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069))
            {
                return "The user id must not contain bidi embedding, override or isolate characters.";
            }
            visible |= !Rune.IsWhiteSpace(rune) && Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.Format or UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark);
        }
        return visible ? null : "The user id must contain a visible character (not only white space, zero-width or bidi characters).";
    }

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether <paramref name="userId"/> is a valid id.</summary>
    public static bool IsValid(string? userId) => Problem(userId) is null;
}
