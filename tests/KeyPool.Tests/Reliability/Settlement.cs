using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// The books of an in-process gateway after a fault: every attempt that reached the upstream is recorded once in
/// usage (per group, as the emulator counted it per key), and no budget reservation is left open.
/// </summary>
internal static class Settlement
{
    /// <summary>Open reservations and the tokens they hold, summed over every key's windows.</summary>
    public static (long Requests, long Tokens) Reserved(GatewayHarness gateway)
    {
        var pool = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool;
        long requests = 0, tokens = 0;
        foreach (var member in pool.Members)
        {
            foreach (var window in pool.WindowsOf(member))
            {
                var (r, t) = window.Reserved;
                requests += r;
                tokens += t;
            }
        }
        return (requests, tokens);
    }

    /// <summary>Requests the gateway recorded for <paramref name="group"/> (in memory: store plus pending).</summary>
    public static long Recorded(GatewayHarness gateway, int group) =>
        gateway.App.Services.GetRequiredService<UsageRecorder>().Totals(group).Requests;

    /// <summary>Chat attempts that reached the emulator with the key of <paramref name="group"/>, whatever their end.</summary>
    public static int Attempts(GatewayHarness gateway, int group) =>
        gateway.Emulator.Served.Count(s => s.Key == gateway.Keys[group - 1] && s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

    /// <summary>
    /// Waits (bounded) until the books balance, then asserts them: per group, usage recorded equals the attempts the
    /// upstream saw (each settled exactly once), and no reservation is open. Returns the attempts per group.
    /// </summary>
    public static async Task<int[]> AssertBalancedAsync(GatewayHarness gateway)
    {
        var groups = Enumerable.Range(1, gateway.Keys.Count).ToArray();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline && !(Reserved(gateway) == (0, 0) && groups.All(g => Recorded(gateway, g) == Attempts(gateway, g))))
        {
            await Task.Delay(20);
        }
        Assert.Equal((0L, 0L), Reserved(gateway));
        foreach (var group in groups)
        {
            Assert.True(Recorded(gateway, group) == Attempts(gateway, group),
                $"group {group}: usage recorded {Recorded(gateway, group)} requests, the upstream saw {Attempts(gateway, group)} attempts");
        }
        return groups.Select(g => Attempts(gateway, g)).ToArray();
    }

    /// <summary>How many streams the client saw begin (the first chunk carries the assistant role): more than one is a replay.</summary>
    public static int StreamStarts(string body) => CountOf(body, "\"role\":\"assistant\"");

    public static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
