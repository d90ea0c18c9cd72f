using System.Diagnostics;
using KeyPool.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace KeyPool.Tests.Reliability.Storage;

/// <summary>
/// <c>keypool users import</c> (another process) on the file a running gateway uses: the gateway's sign-ups keep
/// succeeding during the import, because the import writes in short transactions and pauses between them.
/// </summary>
public sealed class ImportWhileServingTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private const int ImportedIds = 200_000;

    private readonly string _directory = Directory.CreateTempSubdirectory("keypool-import-serve-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task SignUpsDuringALargeImport_AllSucceed()
    {
        var database = Path.Combine(_directory, "keypool.db");
        // A lock wait of 2 s at most (the default is 10 s): the import must never hold the file longer than that.
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 4, settings: new Dictionary<string, string?>
        {
            ["ConnectionStrings:KeyPool"] = $"Data Source={database};Default Timeout=2",
        });
        var file = Path.Combine(_directory, "users.txt");
        await File.WriteAllLinesAsync(file, Enumerable.Range(0, ImportedIds).Select(i => $"imported-{i * 7919 % ImportedIds:D6}"));

        using var import = StartImport(database, file);
        var failures = new List<string>();
        var signedUp = 0;
        var duringImport = 0;
        // Four callers at once, each signing up new users one after another until the import ends.
        var callers = Enumerable.Range(0, 4).Select(async caller =>
        {
            for (var i = 0; !import.HasExited; i++)
            {
                var (status, _, body) = await gateway.ChatAsync($"live-{caller}-{i}");
                var stillImporting = !import.HasExited;
                lock (failures)
                {
                    if (status != 200)
                    {
                        failures.Add($"{status} {body}");
                    }
                    signedUp++;
                    duringImport += stillImporting ? 1 : 0;
                }
            }
        }).ToArray();
        var started = Stopwatch.StartNew();
        var printed = import.StandardOutput.ReadToEndAsync();
        var errors = import.StandardError.ReadToEndAsync();
        Assert.True(await WaitForExitAsync(import, TimeSpan.FromMinutes(3)), "the import did not end within 3 minutes");
        var importTime = started.Elapsed;
        await Task.WhenAll(callers);
        output.WriteLine($"import of {ImportedIds:N0} ids: {importTime.TotalSeconds:0.0} s; sign-ups {signedUp} ({duringImport} during the import), failed {failures.Count}");

        Assert.True(import.ExitCode == 0, $"import exited with {import.ExitCode}: {await printed} {await errors}");
        Assert.Empty(failures);
        Assert.True(duringImport >= 4, $"only {duringImport} sign-ups ran during the import: it proves nothing");
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM user_profiles), (SELECT SUM(user_count) FROM api_key_group_users);";
        using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(ImportedIds + signedUp, reader.GetInt64(0));
        Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));
    }

    private static Process StartImport(string database, string file)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var argument in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "keypool.dll"), "users", "import", file,
            $"--ConnectionStrings:KeyPool=Data Source={database}", "--KeyPool:Keys:EnvPrefix=IMPORT_SERVE_KEY",
        })
        {
            start.ArgumentList.Add(argument);
        }
        for (var group = 1; group <= 4; group++)
        {
            start.Environment[group == 1 ? "IMPORT_SERVE_KEY" : $"IMPORT_SERVE_KEY_{group}"] = GatewayHarness.KeyFor(group);
        }
        start.Environment["DOTNET_gcServer"] = "0";
        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
    }

    private static async Task<bool> WaitForExitAsync(Process process, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return false;
        }
    }
}
