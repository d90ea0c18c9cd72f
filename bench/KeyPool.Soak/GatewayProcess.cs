using System.Diagnostics;
using System.Net.Http.Headers;
using KeyPool.TestServers;

namespace KeyPool.Soak;

/// <summary>A real <c>keypool serve</c> (release build) on a free loopback port, measured through /proc.</summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    public const string AdminToken = "soak-admin-token-0123456789abcdef";
    public const string ClientToken = "soak-client-token-0123456789abcdef";

    private readonly Process _process;

    private GatewayProcess(Process process, Uri baseAddress, string database)
    {
        _process = process;
        BaseAddress = baseAddress;
        Database = database;
    }

    public Uri BaseAddress { get; }

    public string Database { get; }

    public int Id => _process.Id;

    public static async Task<GatewayProcess> StartAsync(string keypoolDll, Uri upstream, IReadOnlyList<string> keys, string directory)
    {
        var port = FreeTcpPort.Next();
        var database = Path.Combine(directory, "keypool.db");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { keypoolDll, "serve", "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }
        var environment = new Dictionary<string, string>
        {
            ["KeyPool__Upstream__BaseUrl"] = upstream.ToString(),
            ["KeyPool__AdminToken"] = AdminToken,
            ["KeyPool__ClientTokens__0"] = ClientToken,
            ["KeyPool__Keys__EnvPrefix"] = "SOAK_XAI_KEY",
            ["ConnectionStrings__KeyPool"] = $"Data Source={database}",
            ["Logging__LogLevel__Default"] = "Warning",
            // The soak measures resources and accounting at the machine's pace, not the pool's rate limits.
            ["KeyPool__Budgets__RequestsPerMinute"] = "10000000",
            ["KeyPool__Budgets__TokensPerMinute"] = "100000000000",
        };
        for (var i = 0; i < keys.Count; i++)
        {
            environment[i == 0 ? "SOAK_XAI_KEY" : $"SOAK_XAI_KEY_{i + 1}"] = keys[i];
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        // Drained so a chatty process never blocks on a full pipe; warnings are summarised, not kept.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var gateway = new GatewayProcess(process, new Uri($"http://127.0.0.1:{port}"), database);
        using var http = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"keypool serve exited with {process.ExitCode} before it listened.");
            }
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/api-keys/health");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
                using var response = await http.SendAsync(request);
                if (response.IsSuccessStatusCode)
                {
                    return gateway;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                await gateway.DisposeAsync();
                throw new TimeoutException("keypool serve did not answer within 60 s.");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Resident memory, open file descriptors and, of those, sockets.</summary>
    public ProcessSample Sample()
    {
        long rssKiB = 0;
        foreach (var line in File.ReadLines($"/proc/{Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rssKiB = long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        int fds = 0, sockets = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{Id}/fd"))
        {
            fds++;
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed while listed.
            }
        }
        return new ProcessSample(rssKiB * 1024, fds, sockets);
    }

    /// <summary>SIGTERM, then waits for the drain and the last usage flush.</summary>
    public async Task<int> StopAsync(TimeSpan wait)
    {
        using (var kill = Process.Start("kill", ["-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(wait);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

internal readonly record struct ProcessSample(long RssBytes, int FileDescriptors, int Sockets)
{
    public override string ToString() => $"RSS {RssBytes / 1024.0 / 1024.0:0.0} MB, {FileDescriptors} fds, {Sockets} sockets";
}
