using System.Text.Json;
using System.Text.Json.Serialization;
using KeyPool.Core.Cluster;
using KeyPool.Redis.Connections;
using StackExchange.Redis;

namespace KeyPool.Redis.Events;

/// <summary>
/// Events between instances over Redis pub/sub (delivered in well under a second), plus the last state of
/// each key in a hash so an instance that starts or reconnects later reads it.
/// </summary>
public sealed class RedisClusterBus : IClusterBus, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly RedisConnection _connection;
    private readonly string _instanceId;
    private readonly RedisChannel _channel;
    private readonly RedisKey _states;

    /// <summary>Subscribes <paramref name="instanceId"/> to the events of the pool.</summary>
    public RedisClusterBus(RedisConnection connection, string instanceId)
    {
        _connection = connection ?? throw new ArgumentNullException(nameof(connection));
        _instanceId = instanceId;
        _channel = RedisChannel.Literal(connection.Key("events"));
        _states = connection.Key("keystate");
        connection.Multiplexer.ConnectionRestored += OnRestored;
        try
        {
            connection.Multiplexer.GetSubscriber().Subscribe(_channel, (_, message) => OnMessage(message));
        }
        catch (RedisConnectionException)
        {
            // Redis is not reachable yet: the handler is registered all the same and subscribed once a connection is
            // made, as on any reconnect. An instance starts without Redis, as it runs without it.
        }
    }

    /// <inheritdoc />
    public event Action<ClusterEvent>? Received;

    /// <inheritdoc />
    public event Action? Reconnected;

    /// <inheritdoc />
    public void Publish(ClusterEvent clusterEvent)
    {
        ArgumentNullException.ThrowIfNull(clusterEvent);
        var payload = JsonSerializer.Serialize(clusterEvent with { Origin = _instanceId }, Json);
        try
        {
            var database = _connection.Multiplexer.GetDatabase();
            if (clusterEvent.Kind == ClusterEventKind.KeyState)
            {
                database.HashSet(_states, $"{clusterEvent.Group}:{clusterEvent.KeyFingerprint}", payload, flags: CommandFlags.FireAndForget);
            }
            database.Publish(_channel, payload, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Lost while Redis is down; on reconnect every instance drops its caches and reads key states again.
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ClusterEvent>> LoadKeyStatesAsync(CancellationToken cancellationToken) =>
        RedisConnection.RunAsync<IReadOnlyList<ClusterEvent>>(async () =>
        {
            var entries = await _connection.Multiplexer.GetDatabase().HashGetAllAsync(_states).ConfigureAwait(false);
            return entries.Select(e => Parse(e.Value)).OfType<ClusterEvent>().ToArray();
        });

    /// <inheritdoc />
    public void Dispose()
    {
        _connection.Multiplexer.ConnectionRestored -= OnRestored;
        _connection.Multiplexer.GetSubscriber().Unsubscribe(_channel);
    }

    private void OnMessage(RedisValue message)
    {
        if (Parse(message) is { } clusterEvent && clusterEvent.Origin != _instanceId)
        {
            Received?.Invoke(clusterEvent);
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            Reconnected?.Invoke();
        }
    }

    private static ClusterEvent? Parse(RedisValue value)
    {
        try
        {
            return value.HasValue ? JsonSerializer.Deserialize<ClusterEvent>((string)value!, Json) : null;
        }
        catch (JsonException)
        {
            return null; // not ours (another version, or garbage): ignore
        }
    }
}
