using KeyPool.Core.Storage;
using KeyPool.Postgres.Schema;
using Npgsql;

namespace KeyPool.Postgres.Connections;

/// <summary>
/// The pooled data source of one database, and the adapter boundary: every store call runs through
/// <see cref="RunAsync{T}"/>, which turns "cannot reach the database" errors into <see cref="StoreUnavailableException"/>.
/// </summary>
internal sealed class PostgresDatabase : IAsyncDisposable
{
    public PostgresDatabase(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(PostgresConnectionString.Normalize(connectionString));
        builder.ConnectionStringBuilder.ApplicationName ??= "KeyPool";
        DataSource = builder.Build();
    }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>The type of <c>user_profiles.id</c> (<c>text</c> unless an existing table made it a <c>uuid</c>); read at initialisation.</summary>
    public UserIdType UserIdType { get; set; } = UserIdType.Text;

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        DataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// What every store on this database does before use: applies the missing migrations when <paramref name="migrate"/>
    /// (<c>serve --migrate</c>), else only checks, and refuses a schema that is not current with what to run. Then
    /// <paramref name="schemaRead"/>, if any, reads what it needs of the schema on the same connection.
    /// </summary>
    public Task InitializeAsync(bool migrate, CancellationToken cancellationToken, Func<NpgsqlConnection, CancellationToken, Task>? schemaRead = null) =>
        RunAsync(async ct =>
        {
            if (migrate)
            {
                await PostgresMigrations.MigrateAsync(DataSource, ct).ConfigureAwait(false);
            }
            await using var connection = await OpenAsync(ct).ConfigureAwait(false);
            await PostgresMigrations.RequireCurrentAsync(connection, ct).ConfigureAwait(false);
            if (schemaRead is not null)
            {
                await schemaRead(connection, ct).ConfigureAwait(false);
            }
        }, cancellationToken);

    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        try
        {
            return await operation(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException && PostgresErrors.IsUnavailable(exception))
        {
            throw PostgresErrors.Wrap(exception);
        }
    }

    public async Task RunAsync(Func<CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        try
        {
            await operation(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException && PostgresErrors.IsUnavailable(exception))
        {
            throw PostgresErrors.Wrap(exception);
        }
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>How user ids are held: SQL fragments that turn a text parameter into the column's type and back.</summary>
internal sealed record UserIdType(string Name, string FromText, string ToText)
{
    public static readonly UserIdType Text = new("text", "", "");

    // Supabase profiles are keyed by the auth user's uuid.
    public static readonly UserIdType Uuid = new("uuid", "::uuid", "::text");

    /// <summary>False when the id can never be stored in this column (a non-uuid id in a uuid column).</summary>
    public bool Accepts(string userId) => this != Uuid || Guid.TryParse(userId, out _);
}
