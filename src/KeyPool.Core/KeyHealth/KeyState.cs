namespace KeyPool.Core.KeyHealth;

/// <summary>What a key can do now, as shown in health and stats.</summary>
public enum KeyState
{
    /// <summary>Serving.</summary>
    Active,

    /// <summary>Resting after a 429 until the upstream's window resets (or the back-off ends).</summary>
    CoolingDown,

    /// <summary>Its circuit is open after consecutive failures (5xx, time-outs, unreachable); a half-open probe follows.</summary>
    CircuitOpen,

    /// <summary>Healthy but out of budget this second or minute.</summary>
    Saturated,

    /// <summary>Invalid, revoked, blocked or out of credits: out until re-enabled.</summary>
    Revoked,

    /// <summary>Users are assigned to the group but it has no key.</summary>
    Missing,
}

/// <summary>Lower-case names used in JSON and metrics.</summary>
public static class KeyStateNames
{
    /// <summary>
    /// The JSON name of <paramref name="state"/>. Both resting states are <c>cooling</c> (the documented contract of
    /// health, stats and metrics); <see cref="Detail"/> tells them apart.
    /// </summary>
    public static string Of(KeyState state) => state switch
    {
        KeyState.Active => "active",
        KeyState.CoolingDown or KeyState.CircuitOpen => "cooling",
        KeyState.Saturated => "saturated",
        KeyState.Revoked => "revoked",
        _ => "missing",
    };

    /// <summary>Why a <c>cooling</c> key rests: <c>rate_limited</c> (a 429) or <c>circuit_open</c> (failures); null for other states.</summary>
    public static string? Detail(KeyState state) => state switch
    {
        KeyState.CoolingDown => "rate_limited",
        KeyState.CircuitOpen => "circuit_open",
        _ => null,
    };

    /// <summary>Whether <paramref name="state"/> is one of the resting states (shown as <c>cooling</c>).</summary>
    public static bool IsCooling(this KeyState state) => state is KeyState.CoolingDown or KeyState.CircuitOpen;
}
