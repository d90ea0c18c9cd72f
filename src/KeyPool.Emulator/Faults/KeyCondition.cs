namespace KeyPool.Emulator.Faults;

/// <summary>What an operator did to a key on the emulated console.</summary>
internal enum KeyCondition
{
    Active,
    Revoked,
    Blocked,
    CreditsExhausted,
}
