using KeyPool.Core.Budgets;

namespace KeyPool.Core.Cluster;

/// <summary>
/// One instance's share of a shared budget while the ledger is unreachable: 1/N of the limits, spent evenly (no
/// burst, since the instances cannot coordinate), and charged at the start with 1/N of the last use the ledger
/// reported (the other instances' leases are in that window too).
/// </summary>
internal sealed class FallbackWindow
{
    private readonly RateWindow _window;

    public FallbackWindow(BudgetLimits limits, int instances, (long Requests, long Tokens) lastWindowUse, long second)
    {
        var n = Math.Max(1, instances);
        var share = new BudgetLimits(Math.Max(1, limits.RequestsPerMinute / n), Math.Max(1, limits.TokensPerMinute / n), BurstSeconds: 1);
        _window = new RateWindow(share);
        // Rounded up: shares rounded down would together charge less than was used (59 used, two instances: 29 + 29).
        _window.Observe(second, share.RequestsPerMinute - ((lastWindowUse.Requests + n - 1) / n), share.TokensPerMinute - ((lastWindowUse.Tokens + n - 1) / n));
    }

    /// <summary>
    /// The ledger is back and this instance wrote what it spent here: it spends nothing more until its next round, so
    /// every other instance (on the same round interval) has written its own before any of them leases again.
    /// </summary>
    public bool Settling { get; set; }

    /// <summary>Takes one request and <paramref name="tokens"/> at <paramref name="second"/> if the share has room.</summary>
    public bool TryTake(long second, long tokens) => !Settling && _window.TryAcquire(second, tokens);

    /// <summary>Replaces a take's tokens with what the request really cost (a take given back keeps its request: conservative).</summary>
    public void Settle(long second, long reserved, long actual) => _window.Settle(second, reserved, actual);
}
