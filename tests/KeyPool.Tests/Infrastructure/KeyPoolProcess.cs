using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using KeyPool.TestServers;

namespace KeyPool.Tests.Infrastructure;

/// <summary>
/// A real <c>keypool serve</c> process (the built keypool.dll next to the tests, run with <c>dotnet</c>) on a
/// free loopback port, configured through its environment; killed on dispose.
/// </summary>
public sealed class KeyPoolProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private KeyPoolProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    /// <summary>What the process wrote so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the process on <paramref name="port"/> (a load balancer's fixed upstream), else on a free one.</summary>
    public static async Task<KeyPoolProcess> StartAsync(IReadOnlyDictionary<string, string> environment, string adminToken, int? port = null)
    {
        port ??= FreeTcpPort.Next();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "keypool.dll"), "serve", "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        start.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var instance = new KeyPoolProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => instance.Append(e.Data);
        process.ErrorDataReceived += (_, e) => instance.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                var output = instance.Output;
                await instance.DisposeAsync();
                throw new InvalidOperationException($"keypool exited with {process.ExitCode}: {output}");
            }
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/api-keys/health");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
                using var response = await instance.Http.SendAsync(request);
                if (response.IsSuccessStatusCode)
                {
                    return instance;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                var output = instance.Output;
                await instance.DisposeAsync();
                throw new TimeoutException($"keypool did not answer within 60 s: {output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>The process id (a child of the test process: signalling it needs no RunsAlone).</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>SIGKILL: no handler runs, nothing is flushed.</summary>
    public void KillHard() => _process.Kill();

    /// <summary>Sends <paramref name="signal"/> (e.g. "TERM") with the system's <c>kill</c>.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {_process.Id}") ?? throw new InvalidOperationException("kill did not start.");
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits until the process has exited, at most <paramref name="timeout"/>; false when it is still running.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
