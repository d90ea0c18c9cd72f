using KeyPool.Core.Keys;

namespace KeyPool.Keys;

/// <summary>Holds the current key ring. Requests read <see cref="Current"/> once and use that ring throughout.</summary>
internal sealed class KeyRingProvider(KeyDiscoveryResult discovered)
{
    private volatile KeyRing _current = discovered.Keys;

    public KeyRing Current => _current;

    public KeyDiscoveryResult Discovery { get; } = discovered;

    /// <summary>Reads keys from configuration, which includes the environment (XAI_API_KEY, XAI_API_KEY_2, …).</summary>
    public static KeyDiscoveryResult Discover(IConfiguration configuration, string prefix) =>
        KeyDiscovery.Discover(
            configuration.GetChildren().Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)),
            prefix);
}
