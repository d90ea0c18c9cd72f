using KeyPool.Core.Cluster;
using StackExchange.Redis;

namespace KeyPool.Redis.Connections;

/// <summary>
/// One multiplexed connection to Redis (or Valkey) for the whole instance. Commands fail fast while the
/// server is unreachable (no backlog), so the budgets switch to their fallback at once instead of queueing,
/// and the connection keeps reconnecting in the background.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private RedisConnection(ConnectionMultiplexer multiplexer, string prefix)
    {
        Multiplexer = multiplexer;
        Prefix = prefix;
    }

    internal ConnectionMultiplexer Multiplexer { get; }

    internal string Prefix { get; }

    /// <summary>The server's address, for logs (never the password).</summary>
    public string Endpoint => string.Join(", ", Multiplexer.GetEndPoints().Select(e => e.ToString()));

    /// <summary>Whether a server is connected now.</summary>
    public bool IsConnected => Multiplexer.IsConnected;

    /// <summary>Connects to <paramref name="connectionString"/> (StackExchange.Redis syntax: <c>host:port,password=…</c>); returns even when the server is down.</summary>
    public static async Task<RedisConnection> ConnectAsync(string connectionString, string prefix) =>
        new(await ConnectionMultiplexer.ConnectAsync(Options(connectionString)).ConfigureAwait(false), prefix);

    /// <summary>Connects synchronously (at composition, before anything runs); returns within the connect timeout even when the server is down.</summary>
    public static RedisConnection Connect(string connectionString, string prefix) =>
        new(ConnectionMultiplexer.Connect(Options(connectionString)), prefix);

    private static ConfigurationOptions Options(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= "keypool";
        if (!connectionString.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.ConnectTimeout = 2000;
        }
        if (!connectionString.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.AsyncTimeout = 1000; // a round on the ledger must not hang: the fallback is better than waiting
        }
        options.ReconnectRetryPolicy = new LinearRetry(250);
        return options;
    }

    internal string Key(string name) => $"{Prefix}:{name}";

    /// <summary>Runs <paramref name="command"/>, turning Redis failures into <see cref="ClusterUnavailableException"/>.</summary>
    internal static async Task<T> RunAsync<T>(Func<Task<T>> command)
    {
        try
        {
            return await command().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The first sentence is the reason; the rest is StackExchange.Redis' diagnostics.
            var reason = e.Message.Split(';', 2)[0].Trim();
            throw new ClusterUnavailableException($"Redis unreachable: {reason}", e);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await Multiplexer.DisposeAsync().ConfigureAwait(false);
}
