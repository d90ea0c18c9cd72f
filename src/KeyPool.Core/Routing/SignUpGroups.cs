using KeyPool.Core.KeyHealth;

namespace KeyPool.Core.Routing;

/// <summary>
/// The groups a new user may be assigned to: keys present and not revoked (the original
/// <c>get_next_api_key_group()</c> counts available keys). A user sent to a revoked key would spill on
/// every request. Cooling keys stay eligible: they are back within a minute.
/// </summary>
public static class SignUpGroups
{
    /// <summary>
    /// Those of <paramref name="groups"/> (the keys present) whose key <paramref name="pool"/> does not know
    /// as revoked; all of them when every one is revoked (someone must take the user).
    /// </summary>
    public static IReadOnlyList<int> Of(PoolSnapshot pool, IReadOnlyList<int> groups)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(groups);
        var usable = 0;
        foreach (var group in groups)
        {
            usable += Usable(pool, group) ? 1 : 0;
        }
        if (usable == groups.Count || usable == 0)
        {
            return groups;
        }
        var result = new int[usable];
        var i = 0;
        foreach (var group in groups)
        {
            if (Usable(pool, group))
            {
                result[i++] = group;
            }
        }
        return result;
    }

    private static bool Usable(PoolSnapshot pool, int group) => pool.Find(group)?.Health.State != KeyState.Revoked;
}
