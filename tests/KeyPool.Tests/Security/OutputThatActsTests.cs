using System.Text;
using KeyPool.CommandLine;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace KeyPool.Tests.Security;

/// <summary>What KeyPool writes out (the usage export, log lines) cannot act: no spreadsheet formula, no forged log line, no terminal escape.</summary>
public sealed class OutputThatActsTests
{
    [Theory]
    [InlineData("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")]
    [InlineData("+1+1", "\"'+1+1\"")]
    [InlineData("-2+3", "\"'-2+3\"")]
    [InlineData("@SUM(A1)", "\"'@SUM(A1)\"")]
    [InlineData("\t=1", "\"'\t=1\"")]
    [InlineData("\r=1", "\"'\r=1\"")]
    [InlineData("alice", "alice")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("a=b", "a=b")]
    public void Export_NeutralisesFormulaCells(string id, string cell)
    {
        var line = new StringBuilder();

        UsageExportCommand.AppendField(line, id);

        Assert.Equal(cell, line.ToString());
    }

    [Fact]
    public async Task Export_WholeFile_FormulaIdOpensAsText()
    {
        var writer = new StringWriter();
        await UsageExportCommand.WriteAsync(Rows(new UserDayUsage("=cmd|' /C calc'!A0", new DateOnly(2026, 12, 1), 1, 2, 3, 0, 0, 5)), writer, CancellationToken.None);

        var row = writer.ToString().Split(Environment.NewLine)[1];
        Assert.StartsWith("\"'=cmd|' /C calc'!A0\",2026-12-01,", row, StringComparison.Ordinal);
    }

    [Fact]
    public void LogLine_WithCrLfAndAnsiInAModelName_StaysOneInertLine()
    {
        var formatter = new SafeConsoleFormatter(new StaticOptions(new ConsoleFormatterOptions()));
        var model = "grok\r\n12:00:00 info: KeyPool.Admin[1] forged\u001b[2K\u001b[31m\u202Edrowssap";
        var entry = new LogEntry<string>(LogLevel.Warning, "KeyPool.Proxy", new EventId(7), model, null, (state, _) => $"Unknown model {state}");
        var output = new StringWriter();

        formatter.Write(entry, null, output);

        var text = output.ToString();
        Assert.Single(text.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain('\r', text.TrimEnd());
        Assert.DoesNotContain('\u001b', text);
        Assert.DoesNotContain('\u202E', text);
        Assert.Equal("warn: KeyPool.Proxy[7] Unknown model grok\\r\\n12:00:00 info: KeyPool.Admin[1] forged\\u001B[2K\\u001B[31m\\u202Edrowssap" + Environment.NewLine, text);
    }

    private static async IAsyncEnumerable<UserDayUsage> Rows(params UserDayUsage[] rows)
    {
        foreach (var row in rows)
        {
            yield return row;
        }
        await Task.CompletedTask;
    }

    private sealed class StaticOptions(ConsoleFormatterOptions value) : IOptionsMonitor<ConsoleFormatterOptions>
    {
        public ConsoleFormatterOptions CurrentValue => value;

        public ConsoleFormatterOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<ConsoleFormatterOptions, string?> listener) => null;
    }
}
