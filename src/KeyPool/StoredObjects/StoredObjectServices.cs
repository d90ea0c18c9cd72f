using KeyPool.Core.StoredObjects;
using KeyPool.Postgres.StoredObjects;
using KeyPool.Sqlite.StoredObjects;
using KeyPool.Storage;
using Microsoft.Extensions.Options;

namespace KeyPool.StoredObjects;

/// <summary>The stored-object directory on the configured store (the shared PostgreSQL in a cluster), its writer and the request path's check.</summary>
internal static class StoredObjectServices
{
    public static IServiceCollection AddKeyPoolStoredObjects(this IServiceCollection services)
    {
        services.AddOptions<StoredObjectsOptions>().BindConfiguration(StoredObjectsOptions.Section)
            .Validate(o => o.CacheSize >= 1 && o.MaxPending >= 1 && o.PurgeBatch >= 1 && o.PurgeInterval > TimeSpan.Zero && o.ClusterRecheck >= TimeSpan.Zero,
                "KeyPool:StoredObjects: CacheSize, MaxPending and PurgeBatch must be at least 1, PurgeInterval positive, ClusterRecheck not negative.")
            .ValidateOnStart();
        services.AddSingleton<IStoredObjectStore>(sp =>
        {
            var choice = sp.GetRequiredService<StoreChoice>();
            return choice.Kind == StoreKind.Postgres
                ? new PostgresStoredObjectStore(choice.ConnectionString, choice.Migrate)
                : new SqliteStoredObjectStore(choice.ConnectionString);
        });
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StoredObjectsOptions>>().Value;
            return new StoredObjectDirectory(sp.GetRequiredService<IStoredObjectStore>(), options.CacheSize, options.MaxPending, sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<StoredObjectAccess>();
        services.AddHostedService<StoredObjectWriter>();
        return services;
    }
}
