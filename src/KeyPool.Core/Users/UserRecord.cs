namespace KeyPool.Core.Users;

/// <summary>An end user and the key group they are sticky to.</summary>
/// <param name="Id">The application's id for the user.</param>
/// <param name="ApiKeyGroup">The user's key group.</param>
/// <param name="Tier">The user's tier (e.g. "free"); may pin a model.</param>
public sealed record UserRecord(string Id, int ApiKeyGroup, string Tier);

/// <summary>The result of <see cref="IUserStore.GetOrAssignAsync"/>.</summary>
/// <param name="User">The stored user.</param>
/// <param name="Created">True when this call assigned the group.</param>
public sealed record UserAssignment(UserRecord User, bool Created);

/// <summary>The result of an import.</summary>
/// <param name="Read">Ids read from the source (blank lines excluded).</param>
/// <param name="Assigned">Users given a group by this run.</param>
/// <param name="Skipped">Users that already had a group (earlier run, or a repeat in the file).</param>
public sealed record ImportResult(long Read, long Assigned, long Skipped);
