using System.Globalization;

namespace KeyPool.Sqlite.Schema;

/// <summary>
/// Timestamps are stored as ISO-8601 UTC text in the round-trip ("o") format: fixed width,
/// so text order is time order and SQL max() compares them correctly.
/// </summary>
internal static class SqliteTime
{
    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture);

    public static string? Format(DateTimeOffset? value) => value is { } v ? Format(v) : null;

    public static DateTimeOffset? Parse(string? value) =>
        value is null ? null : DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
