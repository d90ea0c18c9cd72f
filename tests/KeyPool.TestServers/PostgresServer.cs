using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace KeyPool.TestServers;

/// <summary>
/// A throwaway PostgreSQL server from the Debian binaries: <c>initdb</c> into a temporary directory,
/// listening on 127.0.0.1 only (free port) and on a unix socket in that directory, with durability off
/// for speed (fsync, synchronous_commit, full_page_writes). When the tests run as root it runs as the
/// unprivileged user <c>keypool-test</c>, since PostgreSQL refuses to run as root. It can be stopped and
/// started again on the same port and data (to test a database that goes away); disposing stops it and
/// deletes everything.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string User = "postgres";
    private const string UnprivilegedUser = "keypool-test";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _bin;
    private readonly string _directory;
    private int _databases;

    private PostgresServer(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>True between a successful start and a stop.</summary>
    public bool IsRunning { get; private set; }

    private string DataDirectory => Path.Combine(_directory, "data");

    private string LogFile => Path.Combine(_directory, "postgres.log");

    /// <summary>Creates a cluster in a new temporary directory and starts it.</summary>
    public static async Task<PostgresServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var bin = FindBinaries();
        var directory = Directory.CreateTempSubdirectory("keypool-pg-").FullName;
        var server = new PostgresServer(bin, directory, FreeTcpPort.Next());
        try
        {
            if (IsRoot)
            {
                await RunAsync("chown", ["-R", $"{UnprivilegedUser}:", directory], asServerUser: false, cancellationToken);
            }
            await server.RunServerToolAsync("initdb",
                ["-D", server.DataDirectory, "-U", User, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                cancellationToken);
            await server.StartAgainAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection string for <paramref name="database"/> over TCP on 127.0.0.1.</summary>
    public string ConnectionString(string database) =>
        string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username={User};Database={database};Pooling=true;Timeout=5");

    /// <summary>Creates a fresh database with a unique name and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "keypool", CancellationToken cancellationToken = default)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}");
        await RunServerToolAsync("createdb", ["-h", _directory, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, name], cancellationToken);
        return ConnectionString(name);
    }

    /// <summary>Starts the server (again) on the same port and data directory; returns once it accepts connections.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        var options = string.Join(' ',
            "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-k", _directory,
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=300",
            "-c", "shared_buffers=256MB",
            "-c", "max_wal_size=4GB");
        await RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", options, "start"], cancellationToken);
        IsRunning = true;
    }

    /// <summary>Stops the server (fast shutdown: open sessions are ended); the data stays for <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], cancellationToken);
        IsRunning = false;
    }

    public async ValueTask DisposeAsync()
    {
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], CancellationToken.None);
            }
            catch (InvalidOperationException)
            {
                // Already stopped (or never started): nothing to stop.
            }
        }
        IsRunning = false;
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a dying process: the temp directory is cleaned up by the system.
        }
    }

    private Task RunServerToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(Path.Combine(_bin, tool), arguments, asServerUser: IsRoot, cancellationToken);

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asServerUser, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo
        {
            FileName = asServerUser ? "runuser" : program,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asServerUser)
        {
            foreach (var argument in new[] { "-u", UnprivilegedUser, "--", program })
            {
                start.ArgumentList.Add(argument);
            }
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        // pg_ctl start leaves the server holding inherited pipes, so the output is read without waiting for its end.
        var output = process.StandardOutput.ReadLineAsync(cancellationToken).AsTask();
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(program)} did not finish within {CommandTimeout.TotalSeconds:F0} s.");
        }
        if (process.ExitCode != 0)
        {
            var message = await Task.WhenAny(error, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) == error ? await error : "";
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} failed ({process.ExitCode}): {message}");
        }
        _ = output;
    }

    private static string FindBinaries()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(c => File.Exists(Path.Combine(c.Dir, "initdb")))
                .OrderByDescending(c => c.Version)
                .ToList()
            : [];
        return candidates.Count > 0
            ? candidates[0].Dir
            : throw new InvalidOperationException("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run ./test.sh as root, or apt-get install postgresql.");
    }

    private static bool IsRoot => OperatingSystem.IsLinux() && geteuid() == 0;

    [DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();
}
