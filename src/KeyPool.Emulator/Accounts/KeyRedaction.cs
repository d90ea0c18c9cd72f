namespace KeyPool.Emulator.Accounts;

/// <summary>The two ways xAI shows a key without giving it away.</summary>
internal static class KeyRedaction
{
    private const int MinimumLengthToShowEnds = 8;
    private const int MinimumLengthToShowTail = 12;

    /// <summary>"xa***yz", as in xAI's "Incorrect API key provided" message.</summary>
    public static string ForError(string key)
    {
        // A short key would be mostly shown by its two ends; hide it all instead.
        if (key.Length < MinimumLengthToShowEnds)
        {
            return "***";
        }
        return string.Concat(key.AsSpan(0, 2), "***", key.AsSpan(key.Length - 2));
    }

    /// <summary>"xai-…abcd", as in /v1/api-key's redacted_api_key.</summary>
    public static string ForApiKeyInfo(string key)
    {
        var dash = key.IndexOf('-');
        var prefix = dash is > 0 and <= 4 ? key[..(dash + 1)] : "";
        if (key.Length < MinimumLengthToShowTail)
        {
            return prefix + "…";
        }
        return string.Concat(prefix, "…", key.AsSpan(key.Length - 4));
    }
}
