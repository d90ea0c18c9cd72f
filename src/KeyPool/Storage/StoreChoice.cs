using KeyPool.Core.Callers;
using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Hosting;
using KeyPool.Postgres;
using KeyPool.Postgres.Connections;
using KeyPool.Postgres.GatewayKeys;
using KeyPool.Sqlite;
using KeyPool.Sqlite.GatewayKeys;

namespace KeyPool.Storage;

/// <summary>Which store backs users, usage and gateway keys.</summary>
internal enum StoreKind
{
    /// <summary>The embedded default: one SQLite file, one machine.</summary>
    Sqlite,

    /// <summary>PostgreSQL (Supabase-compatible schema), shared by several instances.</summary>
    Postgres,
}

/// <summary>
/// The store chosen by configuration: <c>KeyPool:Store</c> (<c>Sqlite</c> or <c>Postgres</c>) when set, else
/// PostgreSQL when <c>ConnectionStrings:KeyPool</c> names a server (<c>Host=…</c> or a <c>postgresql://</c> URI),
/// else SQLite (<c>Data Source=keypool.db</c> by default). <c>KeyPool:Migrate=true</c> (<c>serve --migrate</c>)
/// lets the gateway apply PostgreSQL migrations at start; SQLite always creates its own schema.
/// </summary>
internal sealed record StoreChoice(StoreKind Kind, string ConnectionString, bool Migrate)
{
    public const string StoreKey = "KeyPool:Store";
    public const string MigrateKey = "KeyPool:Migrate";
    public const string DefaultSqlite = "Data Source=keypool.db";

    public static StoreChoice From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connectionString = configuration.GetConnectionString("KeyPool");
        var migrate = configuration.GetValue<bool>(MigrateKey);
        var named = configuration[StoreKey];
        StoreKind kind;
        if (string.IsNullOrWhiteSpace(named))
        {
            kind = PostgresConnectionString.IsPostgres(connectionString) ? StoreKind.Postgres : StoreKind.Sqlite;
        }
        else if (!Enum.TryParse(named.Trim(), ignoreCase: true, out kind) || !Enum.IsDefined(kind))
        {
            throw new StartupException($"{StoreKey} is '{named}': use Sqlite (the default) or Postgres.");
        }
        if (kind == StoreKind.Postgres)
        {
            if (string.IsNullOrWhiteSpace(connectionString) || !PostgresConnectionString.IsPostgres(connectionString))
            {
                throw new StartupException(
                    "The PostgreSQL store needs ConnectionStrings:KeyPool naming the server, e.g. Host=db.example;Database=keypool;Username=keypool;Password=… or postgresql://user:password@host:5432/db.");
            }
            try
            {
                PostgresConnectionString.Normalize(connectionString);
            }
            catch (Exception exception) when (exception is ArgumentException or FormatException or UriFormatException)
            {
                // The driver's message names the bad keyword; the value itself may hold a password, so it is not repeated.
                throw new StartupException($"ConnectionStrings:KeyPool is not a valid PostgreSQL connection string: {exception.Message}");
            }
            return new StoreChoice(kind, connectionString, migrate);
        }
        return new StoreChoice(kind, string.IsNullOrWhiteSpace(connectionString) ? DefaultSqlite : connectionString, migrate);
    }

    /// <summary>A short description for logs and the command line, without credentials.</summary>
    public string Describe() => Kind == StoreKind.Postgres
        ? $"PostgreSQL ({PostgresTarget()})"
        : $"SQLite ({ConnectionString})";

    /// <summary>Opens the user store for a command (not the gateway), after initialising it.</summary>
    public async Task<OpenedStore> OpenAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        if (Kind == StoreKind.Postgres)
        {
            var postgres = new PostgresStore(ConnectionString, time, Migrate);
            try
            {
                await postgres.InitializeAsync(cancellationToken);
            }
            catch
            {
                await postgres.DisposeAsync();
                throw;
            }
            return new OpenedStore(postgres, postgres, postgres);
        }
        var sqlite = new SqliteStore(ConnectionString, time);
        await sqlite.InitializeAsync(cancellationToken);
        return new OpenedStore(sqlite, sqlite, sqlite);
    }

    public IGatewayKeyStore CreateGatewayKeyStore(TimeProvider time) => Kind == StoreKind.Postgres
        ? new PostgresGatewayKeyStore(ConnectionString, time, Migrate)
        : new SqliteGatewayKeyStore(ConnectionString, time);

    private string PostgresTarget()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(PostgresConnectionString.Normalize(ConnectionString));
        return $"{builder.Host}:{builder.Port}/{builder.Database}";
    }
}

/// <summary>A store opened by a command; disposing it closes its connections.</summary>
internal sealed record OpenedStore(IUserStore Users, IUserRebalancer Rebalancer, IAsyncDisposable Owner) : IAsyncDisposable
{
    public PostgresStore? Postgres => Owner as PostgresStore;

    /// <summary>Usage per user per day: both stores keep it.</summary>
    public IUserUsageStore UserUsage => (IUserUsageStore)Owner;

    public ValueTask DisposeAsync() => Owner.DisposeAsync();
}
