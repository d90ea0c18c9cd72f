namespace KeyPool.Core.Users;

/// <summary>
/// Where users and their key groups live: the source of truth for assignments.
/// Implementations make <see cref="GetOrAssignAsync"/> atomic across concurrent callers
/// and processes, so the available groups' user counts never differ by more than one
/// because of a race.
/// </summary>
public interface IUserStore
{
    /// <summary>Creates the schema when missing. Safe to call on every start.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>The user, or null when unknown.</summary>
    Task<UserRecord?> FindAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Returns the user when known; otherwise assigns the least-loaded group of
    /// <paramref name="availableGroups"/> (fewest users, ties to the lowest number) and stores the user.
    /// </summary>
    Task<UserAssignment> GetOrAssignAsync(string userId, string tier, IReadOnlyList<int> availableGroups, CancellationToken cancellationToken);

    /// <summary>
    /// Assigns groups round-robin in source order: the i-th id (from 0) gets
    /// <c>groups[i % groups.Count]</c>. Users that already have a group keep it but still
    /// take their turn, so a re-run after an interruption assigns exactly what the first run would have.
    /// Commits every <paramref name="batchSize"/> ids; reports ids read through <paramref name="progress"/>.
    /// </summary>
    Task<ImportResult> ImportRoundRobinAsync(IAsyncEnumerable<string> userIds, IReadOnlyList<int> groups, string tier, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken);

    /// <summary>
    /// Changes a user's tier and/or key group (null keeps it) and, for a move, the groups' user counts in the same
    /// transaction. Returns the updated user, or null when the user is unknown.
    /// </summary>
    Task<UserRecord?> UpdateAsync(string userId, string? tier, int? apiKeyGroup, CancellationToken cancellationToken);

    /// <summary>Users per key group, for every group that has any.</summary>
    Task<IReadOnlyDictionary<int, long>> CountUsersByGroupAsync(CancellationToken cancellationToken);
}
