namespace KeyPool.Core.Keys;

/// <summary>Masks upstream keys so they can be shown: the vendor prefix and the last four characters.</summary>
public static class KeyMask
{
    private const int VisibleTail = 4;
    private const int MinimumLengthToShowTail = 12;

    /// <summary>Returns <c>xai-…a1b2</c> for <c>xai-…a1b2</c>-shaped keys; short keys show nothing of themselves.</summary>
    public static string Mask(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        // A vendor prefix ("xai-", "sk-") says which provider without saying anything secret.
        var dash = key.IndexOf('-');
        var prefix = dash is > 0 and <= 4 ? key[..(dash + 1)] : "";
        if (key.Length < MinimumLengthToShowTail)
        {
            return prefix + "…";
        }
        return string.Concat(prefix, "…", key.AsSpan(key.Length - VisibleTail));
    }
}
