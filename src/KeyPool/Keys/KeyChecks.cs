using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Hosting;

namespace KeyPool.Keys;

/// <summary>
/// Asks the upstream about some keys, each within its own time limit, and hands what it said to the
/// health updater (teams, ACLs, unusable keys). Used at start (every key) and after a reload (new keys). A key the
/// upstream does not answer for keeps its configured team: a silent upstream never stops the start.
/// </summary>
internal static class KeyChecks
{
    public static async Task RunAsync(
        IEnumerable<UpstreamKey> keys, KeyHealthUpdater health, UpstreamKeyCheck check, TimeSpan perKey, ILogger logger, CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(keys.Select(async key => (key.Group, Check: await check.CheckAsync(key, perKey, cancellationToken))));
        var reports = results.Where(r => r.Check is not null).Select(r => new UpstreamKeyReport(r.Group, r.Check!.Team, r.Check.Problem, r.Check.Acl)).ToList();
        foreach (var (group, problem) in health.ApplyReports(reports))
        {
            Log.KeyCheckProblem(logger, group, problem);
        }
    }
}
