using KeyPool.CommandLine;
using KeyPool.Sqlite;
using Microsoft.Data.Sqlite;

namespace KeyPool.Tests.CommandLine;

/// <summary><c>keypool users import</c> end to end: a real file, a real SQLite database, the real command.</summary>
public sealed class UsersImportTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("keypool-import-").FullName;

    private string Database => Path.Combine(_directory, "keypool.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<int> RunAsync(params string[] args)
    {
        string[] settings =
        [
            $"--ConnectionStrings:KeyPool=Data Source={Database}",
            "--KeyPool:Keys:EnvPrefix=IMPORT_TEST_KEY",
            "--IMPORT_TEST_KEY=xai-import-test-key-000001",
            "--IMPORT_TEST_KEY_2=xai-import-test-key-000002",
            "--IMPORT_TEST_KEY_4=xai-import-test-key-000004",
        ];
        return await KeyPoolCommandLine.Create().Parse([.. args, .. settings]).InvokeAsync();
    }

    private async Task<Dictionary<string, int>> GroupsAsync(params string[] users)
    {
        await using var store = new SqliteStore($"Data Source={Database}", TimeProvider.System);
        var groups = new Dictionary<string, int>();
        foreach (var user in users)
        {
            groups[user] = (await store.FindAsync(user, CancellationToken.None))!.ApiKeyGroup;
        }
        return groups;
    }

    [Fact]
    public async Task Import_PlainList_RoundRobinOverTheDetectedGroups_InFileOrder()
    {
        var file = Path.Combine(_directory, "users.txt");
        await File.WriteAllLinesAsync(file, ["a", "b", "", "c", "d", "e"]);

        Assert.Equal(0, await RunAsync("users", "import", file, "--batch-size", "2"));

        var groups = await GroupsAsync("a", "b", "c", "d", "e");
        Assert.Equal([1, 2, 4, 1, 2], groups.Values);
    }

    [Fact]
    public async Task Import_Csv_UsesTheIdColumn_AndReRunChangesNothing()
    {
        var file = Path.Combine(_directory, "users.csv");
        await File.WriteAllLinesAsync(file, ["email,id,name", "a@x,u1,\"Smith, Ann\"", "b@x,u2,Bob", "c@x,\"u3\",Cy"]);

        Assert.Equal(0, await RunAsync("users", "import", file));
        var first = await GroupsAsync("u1", "u2", "u3");
        Assert.Equal(0, await RunAsync("users", "import", file));

        Assert.Equal([1, 2, 4], first.Values);
        Assert.Equal(first, await GroupsAsync("u1", "u2", "u3"));
        await using var store = new SqliteStore($"Data Source={Database}", TimeProvider.System);
        Assert.Equal(3, await store.CountUsersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Import_MissingFile_Fails()
    {
        Assert.Equal(1, await RunAsync("users", "import", Path.Combine(_directory, "absent.txt")));
    }

    [Theory]
    [InlineData("id", 0)]
    [InlineData("ID,name", 0)]
    [InlineData("name,\"id\"", 1)]
    [InlineData("user-42", -1)]
    public void IdColumn_FindsTheHeader(string header, int expected) => Assert.Equal(expected, UserIdFileReader.IdColumn(header));

    [Fact]
    public void IdColumn_CsvWithoutId_IsAClearError() =>
        Assert.Contains("no 'id' column", Assert.Throws<InvalidDataException>(() => UserIdFileReader.IdColumn("name,email")).Message, StringComparison.Ordinal);

    [Fact]
    public void Fields_HandleQuotesAndEscapedQuotes() =>
        Assert.Equal(["a", "b, c", "say \"hi\"", ""], UserIdFileReader.Fields("a,\"b, c\",\"say \"\"hi\"\"\","));
}
