using System.Diagnostics;
using System.Text.Json;
using KeyPool.Tests.Keys;

namespace KeyPool.Tests.Reliability.Soak;

/// <summary>
/// <c>bench/soak.sh --seconds 60</c> inside the test command: a real <c>keypool serve</c> under mixed load, faults and
/// reloads must record exactly the usage the upstream counted and not grow. It runs alone so that neither it nor
/// the parallel tests skew the other (the machine has few cores).
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class SoakTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Soak60Seconds_UsageEqual_AndNoGrowth()
    {
        var root = RepositoryRoot();
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = root };
        foreach (var argument in new[] { Path.Combine(root, "bench", "soak.sh"), "--seconds", "60", "--users", "3000", "--workers", "8" })
        {
            start.ArgumentList.Add(argument);
        }
        using var soak = Process.Start(start)!;
        var stdout = soak.StandardOutput.ReadToEndAsync();
        var stderr = soak.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
        {
            try
            {
                await soak.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                soak.Kill(entireProcessTree: true);
                Assert.Fail("bench/soak.sh --seconds 60 did not end within 5 minutes: " + await stdout);
            }
        }
        var text = await stdout;
        output.WriteLine(text);

        Assert.True(soak.ExitCode == 0, $"soak exited with {soak.ExitCode}:\n{text}\n{await stderr}");
        var line = text.Split('\n').Single(l => l.StartsWith("SOAK-RESULT ", StringComparison.Ordinal));
        using var result = JsonDocument.Parse(line["SOAK-RESULT ".Length..]);
        Assert.True(result.RootElement.GetProperty("usageEqual").GetBoolean(), line);
        Assert.Equal(result.RootElement.GetProperty("clientTokens").GetInt64(), result.RootElement.GetProperty("recordedTokens").GetInt64());
        Assert.True(result.RootElement.GetProperty("answered").GetInt64() > 0, line);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "bench", "soak.sh")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("bench/soak.sh was not found above " + AppContext.BaseDirectory);
    }
}
