using KeyPool.Core.Keys;

namespace KeyPool.Keys;

/// <summary>
/// Holds the current key ring. Requests read <see cref="Current"/> once and use that ring throughout,
/// so a reload never changes the key under a request in flight.
/// </summary>
internal sealed class KeyRingProvider(KeySet initial)
{
    private volatile KeySet _set = initial;

    public KeyRing Current => _set.Ring;

    public KeySet Set => _set;

    /// <summary>The last change (for health), or null before any reload changed something.</summary>
    public (DateTimeOffset At, string Change)? LastChange { get; private set; }

    public KeyRingDiff Swap(KeySet next, DateTimeOffset now)
    {
        var diff = KeyRingDiff.Between(_set.Ring, next.Ring);
        _set = next;
        if (!diff.IsEmpty)
        {
            LastChange = (now, diff.ToString());
        }
        return diff;
    }

    /// <summary>Reads keys from configuration, which includes the environment (XAI_API_KEY, XAI_API_KEY_2, …).</summary>
    public static KeyDiscoveryResult Discover(IConfiguration configuration, string prefix) =>
        KeyDiscovery.Discover(
            configuration.GetChildren().Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)),
            prefix);
}
