using System.Globalization;
using System.Net.Http.Headers;

namespace KeyPool.Proxy;

/// <summary>Reads the upstream's <c>x-ratelimit-*</c> and <c>Retry-After</c> headers.</summary>
internal readonly record struct RateLimitHeaders(long? RemainingRequests, long? RemainingTokens, TimeSpan? ResetAfter)
{
    public static RateLimitHeaders From(HttpResponseHeaders headers) => new(
        Number(headers, "x-ratelimit-remaining-requests"),
        Number(headers, "x-ratelimit-remaining-tokens"),
        headers.RetryAfter?.Delta ?? Longest(Duration(headers, "x-ratelimit-reset-requests"), Duration(headers, "x-ratelimit-reset-tokens")));

    private static long? Number(HttpResponseHeaders headers, string name) =>
        headers.NonValidated.TryGetValues(name, out var values)
        && long.TryParse(values.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static TimeSpan? Duration(HttpResponseHeaders headers, string name) =>
        headers.NonValidated.TryGetValues(name, out var values) ? ParseDuration(values.ToString()) : null;

    /// <summary>OpenAI's reset format: "1s", "250ms", "6m0s", "1h2m3.5s".</summary>
    internal static TimeSpan? ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        var span = text.AsSpan().Trim();
        if (span.IsEmpty)
        {
            return null;
        }
        while (!span.IsEmpty)
        {
            var digits = 0;
            while (digits < span.Length && (char.IsAsciiDigit(span[digits]) || span[digits] == '.'))
            {
                digits++;
            }
            if (digits == 0 || !double.TryParse(span[..digits], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
            {
                return null;
            }
            span = span[digits..];
            var unit = span.StartsWith("ms") ? "ms" : span.IsEmpty ? "s" : span[..1].ToString();
            span = span[Math.Min(unit.Length, span.Length)..];
            total += unit switch
            {
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                _ => TimeSpan.MinValue,
            };
            if (total < TimeSpan.Zero)
            {
                return null;
            }
        }
        return total;
    }

    private static TimeSpan? Longest(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : a > b ? a : b;
}
