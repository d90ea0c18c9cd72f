using System.Text.Json;
using KeyPool.RequestLog;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KeyPool.Tests.RequestLog;

public sealed class RequestLogWriterTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("keypool-requestlog-");

    private static RequestLogEntry Entry(int n) => new()
    {
        Time = DateTimeOffset.UnixEpoch.AddSeconds(n),
        Instance = "gw-1",
        User = $"user-{n}",
        KeyGroup = 1 + (n % 3),
        Model = "grok-4.3",
        Endpoint = "/chat/completions",
        Status = 200,
        Attempts = 1,
        InputTokens = 10,
        OutputTokens = 20,
    };

    [Fact]
    public async Task Lines_AreJson_OnePerEntry_AndTheFileRotatesBySize_KeepingABoundedNumberOfFiles()
    {
        var path = Path.Combine(_directory.FullName, "requests.jsonl");
        var options = Options.Create(new RequestLogOptions { Path = path, MaxFileBytes = 4096, MaxFiles = 2 });
        using var writer = new RequestLogWriter(options, NullLogger<RequestLogWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);
        for (var n = 0; n < 300; n++)
        {
            writer.TryWrite(Entry(n));
        }
        await writer.StopAsync(CancellationToken.None);

        Assert.Equal(300, writer.Written);
        Assert.Equal(0, writer.Dropped);
        var files = _directory.GetFiles().Select(f => f.Name).Order().ToArray();
        Assert.Equal(["requests.jsonl", "requests.jsonl.1", "requests.jsonl.2"], files);
        Assert.All(_directory.GetFiles(), f => Assert.True(f.Length <= 4096, $"{f.Name}: {f.Length} bytes"));
        var newest = File.ReadAllLines(path);
        var last = JsonDocument.Parse(newest[^1]).RootElement;
        Assert.Equal("user-299", last.GetProperty("user").GetString());
        Assert.Equal(200, last.GetProperty("status").GetInt32());
        Assert.Equal("/chat/completions", last.GetProperty("endpoint").GetString());
        Assert.False(last.TryGetProperty("error_code", out _)); // nulls are left out
        // Rotated files hold the lines just before the current one's, in order.
        var older = JsonDocument.Parse(File.ReadAllLines(path + ".1")[^1]).RootElement;
        Assert.Equal($"user-{299 - newest.Length}", older.GetProperty("user").GetString());
    }

    [Fact]
    public void AFullQueue_DropsAndCounts_NeverWaits()
    {
        var options = Options.Create(new RequestLogOptions { Path = Path.Combine(_directory.FullName, "x.jsonl"), QueueCapacity = 2 });
        using var writer = new RequestLogWriter(options, NullLogger<RequestLogWriter>.Instance); // not started: nothing drains

        for (var n = 0; n < 5; n++)
        {
            writer.TryWrite(Entry(n));
        }

        Assert.Equal(3, writer.Dropped);
    }

    [Fact]
    public void RecentRequests_KeepsTheNewest_UpToItsCapacity()
    {
        var recent = new RecentRequests(3);
        for (var n = 0; n < 5; n++)
        {
            recent.Add(Entry(n));
        }

        Assert.Equal(["user-4", "user-3", "user-2"], recent.Newest().Select(e => e.User));
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
