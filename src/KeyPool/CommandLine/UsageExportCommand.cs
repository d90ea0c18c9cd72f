using System.CommandLine;
using System.Globalization;
using System.Text;
using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using KeyPool.Storage;

namespace KeyPool.CommandLine;

/// <summary>
/// <c>keypool users export --day 2026-11-28 &gt; usage.csv</c>: one day's usage per user as CSV, heaviest first,
/// streamed from the store (SQLite or PostgreSQL, from <c>ConnectionStrings:KeyPool</c>). Errors go to stderr,
/// so stdout holds only the CSV.
/// </summary>
internal static class UsageExportCommand
{
    public const string Header = "user_id,day,requests,prompt_tokens,completion_tokens,reasoning_tokens,cached_tokens,total_tokens,cost_usd,cost_estimated";

    public static Command Create()
    {
        var day = new Option<string?>("--day") { Description = "The UTC day, YYYY-MM-DD (default: today)." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file instead of stdout." };
        var export = new Command("export", "Write one day's usage per user (requests and tokens) as CSV, heaviest first.") { day, output };
        export.TreatUnmatchedTokensAsErrors = false;
        export.SetAction(async (result, cancellationToken) =>
        {
            var dayText = result.GetValue(day);
            var date = DateOnly.FromDateTime(DateTime.UtcNow);
            if (dayText is not null && !DateOnly.TryParseExact(dayText, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date))
            {
                await Console.Error.WriteLineAsync($"--day must be a UTC date like 2026-11-28, not '{dayText}'.");
                return 1;
            }
            OpenedStore store;
            try
            {
                store = await StoreChoice.From(CliConfiguration.Build(result.UnmatchedTokens)).OpenAsync(TimeProvider.System, cancellationToken);
            }
            catch (Exception exception) when (exception is StartupException or StoreUnavailableException or StoreSchemaException)
            {
                await Console.Error.WriteLineAsync(exception.Message);
                return 1;
            }
            await using (store)
            {
                var file = result.GetValue(output);
                var stream = file is null ? Console.OpenStandardOutput() : file.Create();
                await using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16);
                try
                {
                    var rows = await WriteAsync(store.UserUsage.ExportDayAsync(date, cancellationToken), writer, cancellationToken);
                    await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Exported {rows:N0} users of {date:yyyy-MM-dd}."));
                }
                catch (StoreUnavailableException exception)
                {
                    await Console.Error.WriteLineAsync(exception.Message);
                    return 1;
                }
            }
            return 0;
        });
        return export;
    }

    /// <summary>Writes the header and one line per row as they arrive; returns the rows written.</summary>
    public static async Task<long> WriteAsync(IAsyncEnumerable<UserDayUsage> rows, TextWriter writer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(writer);
        await writer.WriteLineAsync(Header);
        long count = 0;
        var line = new StringBuilder(128);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            line.Clear();
            AppendField(line, row.UserId);
            line.Append(CultureInfo.InvariantCulture, $",{row.Day:yyyy-MM-dd},{row.Requests},{row.PromptTokens},{row.CompletionTokens},{row.ReasoningTokens},{row.CachedTokens},{row.TotalTokens},{KeyPool.Core.Money.UsdTicks.ToUsd(row.CostTicks)},{(row.EstimatedCostTicks != 0 ? "true" : "false")}");
            await writer.WriteLineAsync(line, cancellationToken);
            count++;
        }
        await writer.FlushAsync(cancellationToken);
        return count;
    }

    /// <summary>
    /// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. A field a spreadsheet would run
    /// as a formula (starting with = + - @, tab or CR) gets a leading single quote and is quoted, so it opens as text.
    /// </summary>
    public static void AppendField(StringBuilder line, string value)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(value);
        var formula = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        if (!formula && value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(value);
            return;
        }
        line.Append('"').Append(formula ? "'" : "").Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }
}
