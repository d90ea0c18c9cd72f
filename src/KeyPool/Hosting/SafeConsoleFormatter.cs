using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace KeyPool.Hosting;

/// <summary>
/// The console log line, one per entry (<c>HH:mm:ss info: Category[id] message</c>), with every control character and
/// bidi override escaped (<c>\r</c>, <c>\n</c>, <c>\t</c>, <c>\u001B</c>…). Log lines carry what callers send (model
/// names, user ids, paths, header values): escaping here, once, for every line, means none of them can end a line,
/// forge another or drive the terminal, whichever log call writes them.
/// </summary>
internal sealed class SafeConsoleFormatter(IOptionsMonitor<ConsoleFormatterOptions> options) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "keypool";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }
        var line = new StringBuilder(128);
        if (options.CurrentValue.TimestampFormat is { } format)
        {
            var now = options.CurrentValue.UseUtcTimestamp ? DateTimeOffset.UtcNow : DateTimeOffset.Now;
            line.Append(now.ToString(format, CultureInfo.InvariantCulture));
        }
        line.Append(Level(logEntry.LogLevel)).Append(": ").Append(logEntry.Category)
            .Append('[').Append(logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture)).Append("] ");
        AppendEscaped(line, message);
        if (logEntry.Exception is { } exception)
        {
            line.Append(' ');
            AppendEscaped(line, exception.ToString());
        }
        textWriter.Write(line.Append(Environment.NewLine).ToString());
    }

    /// <summary>Appends <paramref name="text"/> with control characters and bidi embedding/override/isolate characters escaped.</summary>
    public static void AppendEscaped(StringBuilder line, string? text)
    {
        ArgumentNullException.ThrowIfNull(line);
        foreach (var c in text ?? "")
        {
            switch (c)
            {
                case '\r':
                    line.Append("\\r");
                    break;
                case '\n':
                    line.Append("\\n");
                    break;
                case '\t':
                    line.Append("\\t");
                    break;
                case var _ when char.IsControl(c) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'):
                    line.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    break;
                default:
                    line.Append(c);
                    break;
            }
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
