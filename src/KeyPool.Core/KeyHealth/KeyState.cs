namespace KeyPool.Core.KeyHealth;

/// <summary>What a key can do now, as shown in health and stats.</summary>
public enum KeyState
{
    /// <summary>Serving.</summary>
    Active,

    /// <summary>Resting after a 429, or its circuit is open after failures.</summary>
    Cooling,

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
    /// <summary>The JSON name of <paramref name="state"/>.</summary>
    public static string Of(KeyState state) => state switch
    {
        KeyState.Active => "active",
        KeyState.Cooling => "cooling",
        KeyState.Saturated => "saturated",
        KeyState.Revoked => "revoked",
        _ => "missing",
    };
}
