namespace KeyPool.Core.Keys;

/// <summary>One upstream API key and the group number it serves.</summary>
/// <param name="Group">The key group: 1 for the bare prefix, <c>n</c> for suffix <c>_n</c>.</param>
/// <param name="Secret">The key itself. Never log, render or return it; use <see cref="Masked"/>.</param>
public sealed record UpstreamKey(int Group, string Secret)
{
    /// <summary>The key in a form safe to show: <c>xai-…a1b2</c>.</summary>
    public string Masked { get; } = KeyMask.Mask(Secret);

    /// <summary>Keeps the secret out of anything that prints the record.</summary>
    public override string ToString() => $"group {Group} ({Masked})";
}
