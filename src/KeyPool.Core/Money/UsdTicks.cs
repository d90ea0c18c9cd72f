namespace KeyPool.Core.Money;

/// <summary>xAI's unit of money: 1 USD = 10^10 ticks. Sums stay integers; USD is only for showing.</summary>
public static class UsdTicks
{
    /// <summary>Ticks in one US dollar.</summary>
    public const long PerUsd = 10_000_000_000;

    /// <summary><paramref name="ticks"/> in USD (exact to the tick: decimal holds 28 digits).</summary>
    public static decimal ToUsd(long ticks) => (decimal)ticks / PerUsd;

    /// <summary>A USD price per million tokens as ticks per token (may be fractional: kept as decimal).</summary>
    public static decimal PerToken(decimal usdPerMillion) => usdPerMillion * PerUsd / 1_000_000m;
}
