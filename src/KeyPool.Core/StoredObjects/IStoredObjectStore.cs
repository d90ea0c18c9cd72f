namespace KeyPool.Core.StoredObjects;

/// <summary>
/// Where the owners of stored objects live (SQLite alone, the shared PostgreSQL in a cluster): millions of entries,
/// so never all in memory. Written in batches off the request path, read on a cache miss of a follow-up.
/// </summary>
public interface IStoredObjectStore
{
    /// <summary>Creates the table when the store manages it, or checks the schema.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Records <paramref name="objects"/>; an id already recorded is overwritten (idempotent: a retried batch agrees).</summary>
    Task AddAsync(IReadOnlyCollection<StoredObject> objects, CancellationToken cancellationToken);

    /// <summary>The object with <paramref name="id"/>, or null when unknown (expired rows may still be returned until purged).</summary>
    Task<StoredObject?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Forgets <paramref name="ids"/> (deleted upstream); unknown ids are ignored.</summary>
    Task RemoveAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Deletes at most <paramref name="max"/> objects that expired before <paramref name="now"/>; returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);
}
