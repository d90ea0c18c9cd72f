using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace KeyPool.TestServers;

/// <summary>
/// A throwaway nginx (Debian's binary) in front of fixed loopback upstreams, on a free loopback port, in the foreground
/// (<c>daemon off</c>) with its configuration, pid file, logs and temp folders in a temporary directory of its own. The
/// proxy settings are those <c>docs/deploy.md</c> recommends for rolling restarts. Stopped on dispose, also when a test failed.
/// </summary>
public sealed class NginxServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly Process _process;
    private readonly IReadOnlyList<int> _upstreamPorts;
    private readonly bool[] _down;

    private NginxServer(int port, string directory, Process process, IReadOnlyList<int> upstreamPorts)
    {
        Port = port;
        _directory = directory;
        _process = process;
        _upstreamPorts = upstreamPorts;
        _down = new bool[upstreamPorts.Count];
    }

    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    /// <summary>What nginx logged (errors and upstream failures), for failure messages.</summary>
    public string ErrorLog => File.Exists(Path.Combine(_directory, "error.log")) ? File.ReadAllText(Path.Combine(_directory, "error.log")) : "";

    public static string Binary => Environment.GetEnvironmentVariable("KEYPOOL_NGINX") is { Length: > 0 } path ? path : "/usr/sbin/nginx";

    public static async Task<NginxServer> StartAsync(IReadOnlyList<int> upstreamPorts)
    {
        ArgumentNullException.ThrowIfNull(upstreamPorts);
        var directory = Directory.CreateTempSubdirectory("keypool-nginx-").FullName;
        // Workers run as an unprivileged user when the tests run as root: they must be able to write the temp folders.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111);
        }
        var port = FreeTcpPort.Next();
        var configuration = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configuration, Configuration(port, upstreamPorts, new bool[upstreamPorts.Count], directory));
        var start = new ProcessStartInfo(Binary)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-p", directory + "/", "-c", configuration, "-e", Path.Combine(directory, "error.log") })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{Binary} did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new NginxServer(port, directory, process, upstreamPorts);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                var log = server.ErrorLog;
                await server.DisposeAsync();
                throw new InvalidOperationException($"nginx exited with {process.ExitCode}: {log}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException)
            {
                await Task.Delay(20);
            }
        }
        await server.DisposeAsync();
        throw new TimeoutException($"nginx did not listen on port {port} within 20 s.");
    }

    /// <summary>
    /// Takes upstream <paramref name="index"/> out of the rotation (<c>down</c>) or puts it back, as an operator does around
    /// an instance's restart: rewrites the configuration, reloads (SIGHUP) and waits until the workers of the previous
    /// configuration have finished their requests and exited, so that no request can reach a server marked down after this.
    /// </summary>
    public async Task SetDownAsync(int index, bool down, TimeSpan timeout)
    {
        _down[index] = down;
        var previous = Workers();
        await File.WriteAllTextAsync(Path.Combine(_directory, "nginx.conf"), Configuration(Port, _upstreamPorts, _down, _directory));
        await SignalAsync("HUP");
        var deadline = DateTime.UtcNow + timeout;
        while (Workers() is var now && (now.Overlaps(previous) || now.Count == 0))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nginx did not finish its reload within {timeout.TotalSeconds} s: {ErrorLog}");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>The master's worker processes now (from <c>/proc</c>: processes whose parent is the master).</summary>
    private HashSet<int> Workers()
    {
        var workers = new HashSet<int>();
        foreach (var stat in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(stat), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                // "pid (comm) state ppid ...": the name may hold spaces, so read after its closing parenthesis.
                var text = File.ReadAllText(Path.Combine(stat, "stat"));
                var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == _process.Id && fields[0] != "Z")
                {
                    workers.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }
        return workers;
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {_process.Id}") ?? throw new InvalidOperationException("kill did not start.");
        await kill.WaitForExitAsync();
    }

    private static string Configuration(int port, IReadOnlyList<int> upstreamPorts, IReadOnlyList<bool> down, string directory)
    {
        var servers = new StringBuilder();
        for (var i = 0; i < upstreamPorts.Count; i++)
        {
            servers.Append(CultureInfo.InvariantCulture, $"        server 127.0.0.1:{upstreamPorts[i]} max_fails=1 fail_timeout=2s{(down[i] ? " down" : "")};\n");
        }
        return $$"""
            daemon off;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/client_body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                upstream keypool {
            {{servers}}    }
                server {
                    listen 127.0.0.1:{{port}};
                    location / {
                        proxy_pass http://keypool;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_buffering off;
                        proxy_request_buffering on;
                        proxy_connect_timeout 2s;
                        proxy_read_timeout 300s;
                        proxy_next_upstream error timeout;
                        proxy_next_upstream_tries 3;
                        proxy_next_upstream_timeout 10s;
                    }
                }
            }
            """;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGQUIT would wait for open connections; SIGTERM stops the master and its worker at once.
            await SignalAsync("TERM");
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
