namespace KeyPool.Core.Outcomes;

/// <summary>What an outcome did to the key, for the log line the host writes.</summary>
public enum KeyChange
{
    /// <summary>Nothing worth a line.</summary>
    None,

    /// <summary>The key is out until re-enabled (invalid, revoked, blocked, out of credits); first time only.</summary>
    Revoked,

    /// <summary>The key rests after a 429 for <see cref="OutcomeVerdict.CoolFor"/>.</summary>
    CoolingDown,

    /// <summary>This failure opened the key's circuit.</summary>
    CircuitOpened,

    /// <summary>A failure counted against the key's circuit, which stays closed or open as it was.</summary>
    Failed,

    /// <summary>
    /// The upstream refused this key the model (403): the model goes to other keys for a while, and the host asks the
    /// upstream (<c>GET /v1/api-key</c>, in the background) whether the key is blocked, which alone takes it out.
    /// </summary>
    AccessDenied,
}
