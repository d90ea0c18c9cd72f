using System.Text.RegularExpressions;
using KeyPool.Core.Keys;

namespace KeyPool.Proxy;

/// <summary>Removes key material from text that came from the upstream before anyone else sees it.</summary>
internal static partial class SecretScrubber
{
    public static string Scrub(string text, KeyRing ring)
    {
        foreach (var key in ring.Keys)
        {
            if (text.Contains(key.Secret, StringComparison.Ordinal))
            {
                text = text.Replace(key.Secret, key.Masked, StringComparison.Ordinal);
            }
        }
        // Anything still shaped like a key (a key of another pool, a partial echo) is masked too.
        return KeyShaped().Replace(text, m => KeyMask.Mask(m.Value));
    }

    [GeneratedRegex(@"\b(?:xai|sk)-[A-Za-z0-9_\-]{12,}")]
    private static partial Regex KeyShaped();
}
