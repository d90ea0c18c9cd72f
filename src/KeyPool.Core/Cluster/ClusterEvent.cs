using KeyPool.Core.KeyHealth;

namespace KeyPool.Core.Cluster;

/// <summary>What one instance tells the others.</summary>
public enum ClusterEventKind
{
    /// <summary>A key's health changed (revoked, re-enabled, cooling, circuit open or closed).</summary>
    KeyState,

    /// <summary>An instance reloaded its keys: the others reload theirs.</summary>
    KeysReloaded,

    /// <summary>Users were moved between groups (a rebalance): every user→group cache is cleared.</summary>
    UsersMoved,

    /// <summary>A gateway key was revoked: every instance forgets it.</summary>
    GatewayKeyRevoked,

    /// <summary>One user's tier or group was changed: every instance forgets the user, so the next request reads the store.</summary>
    UserChanged,
}

/// <summary>A message between instances. Never carries a secret: keys are named by group and fingerprint, gateway keys by hash.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Group">The key group (<see cref="ClusterEventKind.KeyState"/>).</param>
/// <param name="KeyFingerprint">The key's <see cref="KeyFingerprint"/>, so a state is applied only to the same key.</param>
/// <param name="State">The key's state (<see cref="ClusterEventKind.KeyState"/>).</param>
/// <param name="GatewayKeyHash">The revoked gateway key's SHA-256, hex (<see cref="ClusterEventKind.GatewayKeyRevoked"/>).</param>
/// <param name="UserId">The changed user (<see cref="ClusterEventKind.UserChanged"/>).</param>
public sealed record ClusterEvent(ClusterEventKind Kind, int Group = 0, string? KeyFingerprint = null, KeyHealthState? State = null, string? GatewayKeyHash = null, string? UserId = null)
{
    /// <summary>The instance that sent it (set by the bus).</summary>
    public string? Origin { get; init; }
}

/// <summary>Carries <see cref="ClusterEvent"/>s between instances and keeps the last state of each key for instances that start later.</summary>
public interface IClusterBus
{
    /// <summary>Sends <paramref name="clusterEvent"/> to the other instances; never blocks, and is lost when the bus is unreachable (see <see cref="Reconnected"/>).</summary>
    void Publish(ClusterEvent clusterEvent);

    /// <summary>An event from another instance.</summary>
    event Action<ClusterEvent>? Received;

    /// <summary>The bus was unreachable and is back: events may have been missed, so caches should be dropped and key states read again.</summary>
    event Action? Reconnected;

    /// <summary>The last published state of every key (instances starting later apply them).</summary>
    Task<IReadOnlyList<ClusterEvent>> LoadKeyStatesAsync(CancellationToken cancellationToken);
}

/// <summary>The bus of an instance that is alone: nothing to tell anyone.</summary>
public sealed class LocalClusterBus : IClusterBus
{
    /// <inheritdoc />
    public void Publish(ClusterEvent clusterEvent)
    {
    }

    /// <inheritdoc />
    public event Action<ClusterEvent>? Received
    {
        add { }
        remove { }
    }

    /// <inheritdoc />
    public event Action? Reconnected
    {
        add { }
        remove { }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ClusterEvent>> LoadKeyStatesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ClusterEvent>>([]);
}
