namespace KeyPool.Core.Keys;

/// <summary>Per-group settings (<c>KeyPool:Keys:Groups:&lt;n&gt;</c>): a declared team and budget overrides.</summary>
public sealed class GroupSettings
{
    /// <summary>The upstream team the key belongs to; keys of one team share one budget.</summary>
    public string? Team { get; set; }

    /// <summary>Overrides <c>KeyPool:Budgets:RequestsPerMinute</c> for this group's team.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>Overrides <c>KeyPool:Budgets:TokensPerMinute</c> for this group's team.</summary>
    public long? TokensPerMinute { get; set; }
}
