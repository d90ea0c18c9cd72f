using System.Collections.Concurrent;
using KeyPool.Configuration;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Options;

namespace KeyPool.Keys;

/// <summary>
/// After the upstream refused a key with 403, asks it in the background (<c>GET /v1/api-key</c>, at most once a
/// minute per key) whether the key or its team is blocked or disabled — only then is the key taken out — and
/// learns the key's model ACL, so routing sends each model only to keys that may use it.
/// </summary>
internal sealed class KeyAccessProbe(
    KeyHealthUpdater health, UpstreamKeyCheck check, IOptions<KeysOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<KeyAccessProbe> logger)
{
    private static readonly TimeSpan MinInterval = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<int, long> _lastAsked = new(); // group → UTC ticks; bounded by the key count

    public void Request(PoolMember member)
    {
        var now = time.GetUtcNow().UtcTicks;
        var last = _lastAsked.GetValueOrDefault(member.Group);
        if (now - last < MinInterval.Ticks || !_lastAsked.TryUpdate(member.Group, now, last) && !_lastAsked.TryAdd(member.Group, now))
        {
            return; // asked lately, or another request is asking right now
        }
        _ = ProbeAsync(member);
    }

    private async Task ProbeAsync(PoolMember member)
    {
        try
        {
            if (await check.CheckAsync(member.Key, options.Value.CheckTimeout, lifetime.ApplicationStopping) is { } result)
            {
                foreach (var (group, problem) in health.ApplyReports([new UpstreamKeyReport(member.Group, null, result.Problem, result.Acl)]))
                {
                    Hosting.Log.KeyCheckProblem(logger, group, problem);
                }
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }
    }
}
