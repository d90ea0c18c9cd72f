using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Outcomes;

/// <summary>
/// The one writer of key health. It applies the outcome policy's verdicts (<see cref="Apply"/>), what the upstream
/// says of a key when asked (<see cref="ApplyReports"/>), the operator's re-enable (<see cref="Reenable"/>) and what
/// other instances published (<see cref="ApplyRemote"/>); every change made here on this instance goes to
/// <see cref="Publish"/> (the cluster bus), a remote one does not go back. Admission only takes and returns a
/// half-open probe slot (<see cref="KeyHealthTracker.TryEnter"/>); the trackers' other writes are internal to Core.
/// </summary>
public sealed class KeyHealthUpdater(KeyPoolRouter router, TimeProvider time)
{
    /// <summary>Where this instance's changes of a key's shareable state go (set by the cluster sync), or null when alone.</summary>
    public Action<PoolMember, KeyHealthState>? Publish { get; set; }

    /// <summary>Carries out <paramref name="verdict"/>'s <see cref="OutcomeVerdict.Action"/> on the admitted key; returns the verdict with what changed.</summary>
    public OutcomeVerdict Apply(in Admission admission, OutcomeVerdict verdict)
    {
        var member = admission.Member;
        var health = member.Health;
        var publish = Publish;
        var before = publish is null ? default : health.Current;
        switch (verdict.Action)
        {
            case KeyAction.Success:
                health.RecordSuccess();
                break;
            case KeyAction.Abandon:
                health.Abandon();
                break;
            case KeyAction.Failure:
                verdict = verdict with { Change = health.RecordFailure() ? KeyChange.CircuitOpened : KeyChange.Failed };
                break;
            case KeyAction.CoolDown:
                verdict = verdict with { Change = KeyChange.CoolingDown, CoolFor = health.CoolDown(verdict.ResetAfter) };
                break;
            case KeyAction.Revoke:
                verdict = verdict with { Change = health.Revoke(verdict.Reason ?? "rejected by the upstream") ? KeyChange.Revoked : KeyChange.None };
                break;
            case KeyAction.DenyModel:
                member.Deny(admission.ModelId, time.GetUtcNow().ToUnixTimeSeconds() + (long)(verdict.ResetAfter ?? TimeSpan.Zero).TotalSeconds);
                health.RecordSuccess();
                verdict = verdict with { Change = KeyChange.AccessDenied };
                break;
        }
        if (publish is not null && health.Current is var after && after != before)
        {
            publish(member, after);
        }
        return verdict;
    }

    /// <summary>
    /// Applies what the upstream said of some keys (<c>GET /v1/api-key</c>): their teams go into the pool model, their
    /// model ACLs into routing, and keys it reports unusable are taken out.
    /// </summary>
    /// <returns>The groups revoked by this call, with the reason (for one log line each).</returns>
    public IReadOnlyList<(int Group, string Problem)> ApplyReports(IReadOnlyCollection<UpstreamKeyReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (reports.Any(r => r.Team is not null))
        {
            router.Load(router.Pool.Ring, reports.Where(r => r.Team is not null).ToDictionary(r => r.Group, r => r.Team!));
        }
        var pool = router.Pool;
        var revoked = new List<(int, string)>();
        foreach (var report in reports)
        {
            if (pool.Find(report.Group) is not { } member)
            {
                continue;
            }
            member.SetAcl(report.Acl);
            if (report.Problem is { } problem && member.Health.Revoke(problem))
            {
                revoked.Add((report.Group, problem));
                Publish?.Invoke(member, member.Health.Current);
            }
        }
        return revoked;
    }

    /// <summary>Puts a revoked key back with a clean slate (the admin said so, or the upstream reports it enabled).</summary>
    /// <returns>False when the group has no key.</returns>
    public bool Reenable(int group)
    {
        if (router.Pool.Find(group) is not { } member)
        {
            return false;
        }
        member.Health.Reenable();
        Publish?.Invoke(member, member.Health.Current);
        return true;
    }

    /// <summary>Takes over a state another instance published for <paramref name="member"/>; true when its shown state changed.</summary>
    public bool ApplyRemote(PoolMember member, KeyHealthState state)
    {
        ArgumentNullException.ThrowIfNull(member);
        var before = member.Health.State;
        member.Health.Apply(state);
        return member.Health.State != before;
    }

    /// <summary>Publishes the state of every key not active now (changes made before <see cref="Publish"/> was set).</summary>
    public void PublishUnhealthy()
    {
        if (Publish is not { } publish)
        {
            return;
        }
        foreach (var member in router.Pool.Members)
        {
            if (member.Health.State is not KeyState.Active)
            {
                publish(member, member.Health.Current);
            }
        }
    }
}

/// <summary>What the upstream said of one key when asked (<c>GET /v1/api-key</c>).</summary>
/// <param name="Group">The key's group.</param>
/// <param name="Team">Its team, when reported.</param>
/// <param name="Problem">Why it cannot serve (disabled, blocked), or null.</param>
/// <param name="Acl">The models it may use; null for all or unknown.</param>
public sealed record UpstreamKeyReport(int Group, string? Team, string? Problem, ModelAcl? Acl);
