namespace KeyPool.Core.Storage;

/// <summary>
/// A store that keeps, beside the users, which key groups are usable right now (a key is present and not
/// revoked), so code running in the database itself (PostgreSQL's <c>get_next_api_key_group()</c> and the
/// optional sign-up trigger) assigns only groups the gateway can serve.
/// </summary>
public interface IUsableGroupStore
{
    /// <summary>
    /// Records <paramref name="groups"/> as the usable groups and every other known group as unusable,
    /// in one transaction. Idempotent; several instances writing the same set agree.
    /// </summary>
    Task SetUsableGroupsAsync(IReadOnlyCollection<int> groups, CancellationToken cancellationToken);

    /// <summary>The groups currently recorded as usable, in ascending order.</summary>
    Task<IReadOnlyList<int>> GetUsableGroupsAsync(CancellationToken cancellationToken);
}
