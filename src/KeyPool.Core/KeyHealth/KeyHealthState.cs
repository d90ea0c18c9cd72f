namespace KeyPool.Core.KeyHealth;

/// <summary>
/// The part of a key's health that other instances must know: revoked (and why), cooling until, circuit
/// open until (UTC ticks; 0 = not). Published when it changes and applied by the other instances.
/// </summary>
/// <param name="RevokedReason">Why the key is out, or null.</param>
/// <param name="CoolUntilTicks">End of the cool-down after a 429 (UTC ticks), 0 when none.</param>
/// <param name="OpenUntilTicks">End of the open circuit (UTC ticks), 0 when closed.</param>
public readonly record struct KeyHealthState(string? RevokedReason, long CoolUntilTicks, long OpenUntilTicks);
