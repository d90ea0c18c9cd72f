using System.Diagnostics.CodeAnalysis;

namespace KeyPool.Emulator.Accounts;

/// <summary>The accepted keys, frozen at start so lookups need no lock.</summary>
internal sealed class KeyDirectory
{
    private readonly Dictionary<string, KeyAccount> _accounts;

    public KeyDirectory(EmulatorOptions options)
    {
        _accounts = new Dictionary<string, KeyAccount>(options.Keys.Count, StringComparer.Ordinal);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            var position = i + 1;
            var team = options.Teams.TryGetValue(key, out var t) ? t : $"team-{position}";
            _accounts[key] = new KeyAccount(key, team, position);
        }
    }

    public bool TryFind(string key, [NotNullWhen(true)] out KeyAccount? account) =>
        _accounts.TryGetValue(key, out account);
}
