using System.Diagnostics;

namespace KeyPool.Tests.Reliability.Storage;

/// <summary>
/// A directory on a small disk that a test can fill up and free again: a private tmpfs mount when this machine
/// lets the test mount one (root, and mounts permitted), else an ordinary temporary directory whose database is
/// capped with SQLite's page limit instead (KeyPool:Sqlite:MaxSizeBytes, filled by the test).
/// Either way the gateway sees SQLITE_FULL; the test never skips.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private const int SizeBytes = 4 * 1024 * 1024;

    private readonly bool _mounted;
    private readonly string _filler;

    private SmallDisk(string directory, bool mounted)
    {
        Directory = directory;
        _mounted = mounted;
        _filler = Path.Combine(directory, "filler");
    }

    public string Directory { get; }

    /// <summary>True on a tmpfs; false when the page limit stands in for the disk.</summary>
    public bool IsTmpfs => _mounted;

    public static SmallDisk Create()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("keypool-small-disk-").FullName;
        var mounted = Run("mount", $"-t tmpfs -o size={SizeBytes},mode=0777 keypool-test-tmpfs {directory}");
        return new SmallDisk(directory, mounted);
    }

    /// <summary>Fills the tmpfs to the last byte. Without one, the caller fills the database to its size limit instead.</summary>
    public void Fill()
    {
        var block = new byte[16 * 1024];
        try
        {
            // Unbuffered, so the write that finds the disk full is the one that throws.
            using var filler = new FileStream(_filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            while (true)
            {
                filler.Write(block);
            }
        }
        catch (IOException)
        {
            // No space left: exactly what was wanted.
        }
        try
        {
            using var tail = new FileStream(_filler + "-tail", FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            while (true)
            {
                tail.Write(block, 0, 512);
            }
        }
        catch (IOException)
        {
        }
    }

    public void Free()
    {
        File.Delete(_filler);
        File.Delete(_filler + "-tail");
    }

    public void Dispose()
    {
        if (_mounted)
        {
            Run("umount", $"-l {Directory}");
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static bool Run(string program, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit(10_000);
            return process.HasExited && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no such program
        }
    }
}
