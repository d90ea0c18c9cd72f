using KeyPool.Core.Callers;
using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Core.Users;
using KeyPool.Keys;
using KeyPool.Redis.Connections;
using Microsoft.Extensions.Options;

namespace KeyPool.Cluster;

/// <summary>
/// Keeps this instance in step with the others: runs the lease rounds of the shared budgets, carries the
/// health changes of its keys to the bus (the <see cref="KeyHealthUpdater"/> makes and reports them), and hands
/// what the others publish to their owners (key states to the health updater; reloads, rebalances, revoked gateway keys). After an outage of the bus it drops its caches and reads the key states again.
/// </summary>
internal sealed class ClusterSync(
    SharedBudgets budgets,
    IClusterBus bus,
    RedisConnection connection,
    KeyPoolRouter router,
    KeyHealthUpdater health,
    KeyReloader reloader,
    UserGroupCache users,
    GatewayKeyCache gatewayKeys,
    IOptions<ClusterOptions> options,
    ILogger<ClusterSync> logger) : BackgroundService
{
    private CancellationToken _stopping;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        ClusterLog.Joined(logger, budgets.InstanceId, connection.Endpoint);
        bus.Received += OnReceived;
        bus.Reconnected += OnReconnected;
        health.Publish = PublishKeyState;
        try
        {
            health.PublishUnhealthy(); // changed before the bus was there
            await ApplyStoredKeyStatesAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                var outcome = await budgets.RefreshAsync(stoppingToken);
                if (outcome.Change == RoundChange.Down)
                {
                    ClusterLog.Down(logger, outcome.Reason!, outcome.Instances);
                }
                else if (outcome.Change == RoundChange.Back)
                {
                    ClusterLog.Back(logger, outcome.Instances, outcome.LedgerLost);
                }
                await budgets.WaitAsync(options.Value.LeaseInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            health.Publish = null;
            bus.Received -= OnReceived;
            bus.Reconnected -= OnReconnected;
        }
    }

    private void PublishKeyState(PoolMember member, KeyHealthState state) =>
        bus.Publish(new ClusterEvent(ClusterEventKind.KeyState, member.Group, KeyFingerprint.Of(member.Key), state));

    private async Task ApplyStoredKeyStatesAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var stored in await bus.LoadKeyStatesAsync(cancellationToken))
            {
                ApplyKeyState(stored);
            }
        }
        catch (ClusterUnavailableException e)
        {
            ClusterLog.Failed(logger, "reading the key states", e);
        }
    }

    private void OnReceived(ClusterEvent clusterEvent)
    {
        switch (clusterEvent.Kind)
        {
            case ClusterEventKind.KeyState:
                ApplyKeyState(clusterEvent);
                break;
            case ClusterEventKind.KeysReloaded:
                ClusterLog.ReloadRequested(logger, clusterEvent.Origin);
                _ = ReloadAsync();
                break;
            case ClusterEventKind.UsersMoved:
                users.Clear();
                ClusterLog.UsersMoved(logger, clusterEvent.Origin);
                break;
            case ClusterEventKind.UserChanged when clusterEvent.UserId is { } userId:
                users.Remove(userId);
                ClusterLog.UserChanged(logger, clusterEvent.Origin);
                break;
            case ClusterEventKind.GatewayKeyRevoked when clusterEvent.GatewayKeyHash is { Length: GatewayKeyHash.Size * 2 } hex:
                gatewayKeys.Remove(GatewayKeyHash.FromBytes(Convert.FromHexString(hex)));
                ClusterLog.GatewayKeyRevoked(logger, clusterEvent.Origin);
                break;
        }
    }

    private void ApplyKeyState(ClusterEvent clusterEvent)
    {
        if (clusterEvent.State is not { } state || router.Pool.Find(clusterEvent.Group) is not { } member || KeyFingerprint.Of(member.Key) != clusterEvent.KeyFingerprint)
        {
            return; // a key this instance does not have (or a different key in that group)
        }
        if (health.ApplyRemote(member, state))
        {
            ClusterLog.KeyStateApplied(logger, clusterEvent.Group, KeyStateNames.Of(member.Health.State), clusterEvent.Origin);
        }
    }

    private async Task ReloadAsync()
    {
        try
        {
            await reloader.ReloadAsync(KeyReloader.ClusterTrigger, _stopping);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ClusterLog.Failed(logger, "the reload asked for by another instance", e);
        }
    }

    private void OnReconnected()
    {
        // Invalidations sent while the bus was down are lost. Gateway keys start over from the store (a key revoked
        // meanwhile must stop). The user cache is kept: a rebalance missed meanwhile only costs stickiness (every cached
        // group still routes, a removed one spills), while dropping it would make every user need the store at once —
        // and fail with 503 if the store is down too.
        gatewayKeys.Clear();
        ClusterLog.Reconnected(logger);
        _ = ApplyStoredKeyStatesAsync(_stopping);
    }
}
