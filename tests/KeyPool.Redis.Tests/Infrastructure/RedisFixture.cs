using KeyPool.TestServers;

namespace KeyPool.Redis.Tests.Infrastructure;

/// <summary>One throwaway redis-server per test class; each test uses its own key prefix.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
