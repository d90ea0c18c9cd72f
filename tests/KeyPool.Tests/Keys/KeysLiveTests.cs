using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Keys;

/// <summary>Keys added and removed while serving: the keys file, its watcher and the reload endpoint.</summary>
[Collection(RunsAlone.Name)]
public sealed class KeysLiveTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("keypool-keys-").FullName;

    private string KeysFile => Path.Combine(_directory, "keys.json");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private const int SigHup = 1;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "signal")]
    private static extern IntPtr RestoreDefault(int signal, IntPtr handler);

    // Written whole and renamed into place, as an operator's deploy tool would: a reload never reads half a file.
    private void WriteKeys(params int[] groups)
    {
        var next = KeysFile + ".next";
        File.WriteAllText(next, JsonSerializer.Serialize(new { keys = groups.Select(g => new { group = g, key = GatewayHarness.KeyFor(g) }) }));
        File.Move(next, KeysFile, overwrite: true);
    }

    private Task<GatewayHarness> StartAsync(int[] fileGroups) =>
        StartWithFileAsync(() => WriteKeys(fileGroups));

    private async Task<GatewayHarness> StartWithFileAsync(Action write)
    {
        write();
        // The emulator knows keys 1…6; the gateway starts with only the file's keys.
        return await GatewayHarness.StartAsync(keyCount: 6, groupKeys: new Dictionary<int, string>(), settings: new Dictionary<string, string?>
        {
            ["KeyPool:Keys:File"] = KeysFile,
        });
    }

    private static async Task<int[]> GroupsAsync(GatewayHarness gateway) =>
        (await gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray().Select(s => s.GetProperty("key_group").GetInt32()).ToArray();

    private static async Task<JsonElement> ReloadAsync(GatewayHarness gateway, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/api-keys/reload"));
        Assert.Equal(expected, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task KeysFile_IsReadAtStart_WithTeamsAndBudgets()
    {
        await using var gateway = await StartWithFileAsync(() => File.WriteAllText(KeysFile, $$"""
            {"keys":[
              {"group":1,"key":"{{GatewayHarness.KeyFor(1)}}","team":"alpha","requestsPerMinute":120},
              {"group":3,"key":"{{GatewayHarness.KeyFor(3)}}","team":"alpha"}
            ]}
            """));

        Assert.Equal(new[] { 1, 3 }, await GroupsAsync(gateway));
        var stats = await gateway.KeyStatsAsync(3);
        Assert.Equal("alpha", stats.GetProperty("team").GetString());
        Assert.Equal(120, stats.GetProperty("rpm_limit").GetInt32());
    }

    [Fact]
    public async Task Reload_AddedKeysServeNewSignUpsAtOnce_RemovedKeysStopBeingUsed()
    {
        await using var gateway = await StartAsync([1, 2]);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(200, (await gateway.ChatAsync($"early-{i}")).Status);
        }
        var removedUsers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            if (await gateway.GroupOfAsync($"early-{i}") == 2)
            {
                removedUsers.Add($"early-{i}");
            }
        }

        WriteKeys(1, 3, 4);
        var outcome = await ReloadAsync(gateway);

        // The file watcher may have applied the change a moment before the API call did; either way once.
        Assert.Contains(outcome.GetProperty("changed").GetString(), new[] { "added groups 3, 4; removed group 2", "no change" });
        Assert.Equal(new[] { 1, 3, 4 }, await GroupsAsync(gateway));
        Assert.Single(gateway.LogLines, l => l.Contains("): added groups 3, 4; removed group 2; 3 keys", StringComparison.Ordinal));
        var health = await gateway.HealthAsync();
        Assert.Equal("added groups 3, 4; removed group 2", health.GetProperty("pool").GetProperty("lastKeyChange").GetString());
        // New sign-ups go to the least-loaded groups: the new, empty ones.
        Assert.Equal(200, (await gateway.ChatAsync("late-1")).Status);
        Assert.Equal(200, (await gateway.ChatAsync("late-2")).Status);
        Assert.Equal([3, 4], new[] { await gateway.GroupOfAsync("late-1"), await gateway.GroupOfAsync("late-2") }.Order());
        // Users of the removed key are served elsewhere and keep their group.
        foreach (var user in removedUsers)
        {
            Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
            Assert.NotEqual(2, gateway.GroupsThatServed(user)[^1]);
            Assert.Equal(2, await gateway.GroupOfAsync(user));
        }
        Assert.Equal(removedUsers.Count > 0 ? [2] : [], (await gateway.HealthAsync()).GetProperty("pool").GetProperty("missingGroups").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task Reload_RemovingAKey_DoesNotDropItsRequestInFlight()
    {
        await using var gateway = await StartAsync([1, 2]);
        using (await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "streamer" })))
        {
        }
        var group = await gateway.GroupOfAsync("streamer");
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(100);
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), "streamer"), HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var first = new byte[64];
        Assert.True(await stream.ReadAsync(first) > 0); // the stream is under way on the key about to go

        WriteKeys(group == 1 ? 2 : 1);
        await ReloadAsync(gateway);
        using var reader = new StreamReader(stream);
        var rest = await reader.ReadToEndAsync();
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.Zero;

        Assert.EndsWith("data: [DONE]\n\n", rest, StringComparison.Ordinal);
        Assert.DoesNotContain("\"error\"", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_InvalidFile_KeepsTheCurrentKeys_AndSaysWhy()
    {
        await using var gateway = await StartAsync([1, 2]);
        File.WriteAllText(KeysFile, "{\"keys\":[{\"group\":0,\"key\":\"xai-bad-group-000000\"}]}");

        var outcome = await ReloadAsync(gateway, HttpStatusCode.UnprocessableEntity);

        Assert.Contains("groups start at 1", outcome.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("xai-bad-group", outcome.ToString(), StringComparison.Ordinal);
        Assert.Equal(new[] { 1, 2 }, await GroupsAsync(gateway));
    }

    [Fact]
    public async Task FileChange_IsPickedUpByTheWatcher()
    {
        await using var gateway = await StartAsync([1]);

        WriteKeys(1, 5);

        // The watcher fires on the file system's notice; bounded wait for the reload to finish (it logs last).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!gateway.LogLines.Any(l => l.Contains("keys reloaded (keys.json changed): added group 5", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the keys file change was not picked up within 15 s");
            await Task.Delay(100);
        }
        Assert.Equal(new[] { 1, 5 }, await GroupsAsync(gateway));
    }

    [Fact]
    public async Task Sighup_ReloadsTheKeys_AndDoesNotStopTheProcess()
    {
        // A test run started under nohup inherits SIGHUP ignored, and the runtime then leaves it ignored: give it back
        // its default disposition so the gateway's handler is installed (a gateway under nohup cannot be reloaded by SIGHUP).
        _ = RestoreDefault(SigHup, IntPtr.Zero);
        await using var gateway = await StartAsync([1]);
        WriteKeys(1, 2);
        // Let the watcher's own reload (if any) finish first, so the log line below is the signal's.
        await ReloadAsync(gateway);

        WriteKeys(1, 2, 3);
        using (var kill = System.Diagnostics.Process.Start("kill", $"-HUP {Environment.ProcessId}"))
        {
            await kill.WaitForExitAsync();
        }

        // The watcher may apply the file first; the signal's own reload is what must show up.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!gateway.LogLines.Any(l => l.StartsWith("API Key Pool: keys reloaded (SIGHUP)", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "SIGHUP did not reload the keys within 30 s; last log lines: " + string.Join(" | ", gateway.LogLines.TakeLast(8)));
            await Task.Delay(100);
        }
        Assert.Equal(new[] { 1, 2, 3 }, await GroupsAsync(gateway));
        Assert.Equal(200, (await gateway.ChatAsync("after-hangup")).Status); // still serving
    }
}

/// <summary>
/// Tests that act on or measure the whole test process run alone in it: a SIGHUP reaches every gateway the
/// process hosts, and a memory figure would count every parallel test's gateway.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "Runs alone in the test process";
}
