using Microsoft.Extensions.Primitives;

namespace KeyPool.Emulator.Accounts;

/// <summary>Reads the key out of an <c>Authorization: Bearer &lt;key&gt;</c> header.</summary>
internal static class BearerToken
{
    private const string Scheme = "Bearer ";

    /// <summary>The key, or null when the header is missing, repeated or not a bearer token.</summary>
    public static string? Parse(StringValues authorization)
    {
        if (authorization.Count != 1 || authorization[0] is not { } header)
        {
            return null;
        }
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var key = header.AsSpan(Scheme.Length).Trim();
        if (key.IsEmpty || key.ContainsAny(" \t\r\n"))
        {
            return null;
        }
        return key.ToString();
    }
}
