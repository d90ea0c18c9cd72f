namespace KeyPool.Emulator.Accounts;

/// <summary>An accepted key, its team and its 1-based position in the configured list.</summary>
internal sealed record KeyAccount(string Key, string Team, int Position);
