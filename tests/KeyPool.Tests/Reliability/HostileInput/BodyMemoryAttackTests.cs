using System.Net;
using System.Net.Sockets;
using System.Text;
using KeyPool.Tests.Infrastructure;
using KeyPool.Tests.Keys;
using Xunit.Abstractions;

namespace KeyPool.Tests.Reliability.HostileInput;

/// <summary>
/// Sixty connections of one end user, each declaring a 10 MB body, sending 9 MB at once and then holding, against a
/// real <c>keypool serve</c> process: its resident memory stays within a few hundred MB of idle during the attack and
/// after it, and another user is served meanwhile.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class BodyMemoryAttackTests(ITestOutputHelper output)
{
    private const int Connections = 60;
    private const int Declared = 10_000_000;
    private const int Sent = 9 * 1024 * 1024;
    private const long DuringBound = 450L * 1024 * 1024;
    private const long AfterBound = 200L * 1024 * 1024;

    [Fact]
    public async Task LargeBodiesHeldOpen_MemoryStaysBounded_AndReturns_OthersServed()
    {
        await using var bed = await ProcessTestBed.StartAsync(keyCount: 2, new Dictionary<string, string>());
        var gateway = await bed.StartGatewayAsync();
        for (var i = 0; i < 5; i++)
        {
            await ServedAsync(gateway, $"warm-{i}");
        }
        var idle = Rss(gateway.Id);

        var attack = new List<TcpClient>();
        long during;
        try
        {
            var chunk = Encoding.ASCII.GetBytes(new string(' ', 64 * 1024));
            await Task.WhenAll(Enumerable.Range(0, Connections).Select(async _ =>
            {
                var client = new TcpClient();
                lock (attack)
                {
                    attack.Add(client);
                }
                await client.ConnectAsync(IPAddress.Loopback, gateway.BaseAddress.Port);
                var stream = client.GetStream();
                var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ProcessTestBed.ClientToken}\r\n"
                    + $"X-KeyPool-User: hoarder\r\nContent-Type: application/json\r\nContent-Length: {Declared}\r\n\r\n";
                try
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
                    for (var sent = 0; sent < Sent; sent += chunk.Length)
                    {
                        await stream.WriteAsync(chunk);
                    }
                }
                catch (IOException)
                {
                    // Refused and closed by the gateway (its body memory is spent): what the attacker gets.
                }
            }));
            await Task.Delay(TimeSpan.FromSeconds(1)); // what was sent is read
            during = Rss(gateway.Id);
            await ServedAsync(gateway, "bystander");
        }
        finally
        {
            attack.ForEach(c => c.Dispose());
        }
        await Task.Delay(TimeSpan.FromSeconds(3));
        for (var i = 0; i < 5; i++)
        {
            await ServedAsync(gateway, $"after-{i}");
        }
        var after = Rss(gateway.Id);

        output.WriteLine($"RSS idle {Mb(idle)} MB, during the attack {Mb(during)} MB (+{Mb(during - idle)}), after {Mb(after)} MB (+{Mb(after - idle)})");
        Assert.True(during - idle < DuringBound, $"RSS grew by {Mb(during - idle)} MB during the attack");
        Assert.True(after - idle < AfterBound, $"RSS stayed {Mb(after - idle)} MB above idle after the attack");
    }

    private static async Task ServedAsync(KeyPoolProcess gateway, string user)
    {
        using var response = await gateway.Http.SendAsync(ProcessTestBed.Chat(user, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static long Rss(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    private static long Mb(long bytes) => bytes / 1024 / 1024;
}
