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

    private NginxServer(int port, string directory, Process process)
    {
        Port = port;
        _directory = directory;
        _process = process;
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
        await File.WriteAllTextAsync(configuration, Configuration(port, upstreamPorts, directory));
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
        var server = new NginxServer(port, directory, process);
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

    private static string Configuration(int port, IReadOnlyList<int> upstreamPorts, string directory)
    {
        var servers = new StringBuilder();
        foreach (var upstream in upstreamPorts)
        {
            servers.Append(CultureInfo.InvariantCulture, $"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=2s;\n");
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
            using (var kill = Process.Start("kill", $"-TERM {_process.Id}"))
            {
                if (kill is not null)
                {
                    await kill.WaitForExitAsync();
                }
            }
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
