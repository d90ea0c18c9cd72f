namespace KeyPool.Browser.Tests.Infrastructure;

/// <summary>Where screenshots go: <c>TestResults/</c> at the repository root (test.sh collects it).</summary>
public static class Artifacts
{
    public static string PathOf(string fileName)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "KeyPool.slnx")))
        {
            directory = directory.Parent;
        }
        var results = Path.Combine(directory?.FullName ?? AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(results);
        return Path.Combine(results, fileName);
    }
}
