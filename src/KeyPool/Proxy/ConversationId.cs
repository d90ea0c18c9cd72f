using System.Globalization;

namespace KeyPool.Proxy;

/// <summary>A stable, opaque <c>x-grok-conv-id</c> per user: the same user always lands on the same upstream cache server.</summary>
internal static class ConversationId
{
    public static string For(string userId)
    {
        // FNV-1a: stable across processes and versions (string.GetHashCode is randomised per process).
        var hash = 14695981039346656037UL;
        foreach (var c in userId)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return "kp-" + hash.ToString("x16", CultureInfo.InvariantCulture);
    }
}
