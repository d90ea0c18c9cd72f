using System.Runtime.CompilerServices;

namespace KeyPool.CommandLine;

/// <summary>
/// Streams user ids from a file: one id per line, or CSV whose header names an <c>id</c> column
/// (quoted fields allowed). The whole file is never held in memory.
/// </summary>
internal sealed class UserIdFileReader(string path)
{
    private long _bytesRead;

    /// <summary>Bytes read so far, for a progress bar; safe to read from any thread, even after the file is closed.</summary>
    public long BytesRead => Volatile.Read(ref _bytesRead);

    public async IAsyncEnumerable<string> ReadIdsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous);
        using var reader = new StreamReader(stream);
        var first = await reader.ReadLineAsync(cancellationToken);
        if (first is null)
        {
            yield break;
        }
        var column = IdColumn(first);
        if (column < 0)
        {
            // A plain list: the first line is an id too.
            if (Clean(first) is { } id)
            {
                yield return id;
            }
        }
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            Volatile.Write(ref _bytesRead, stream.Position);
            var value = column < 0 ? line : Field(line, column);
            if (Clean(value) is { } id)
            {
                yield return id;
            }
        }
    }

    /// <summary>The index of the <c>id</c> column when <paramref name="header"/> is a CSV header, else -1.</summary>
    internal static int IdColumn(string header)
    {
        if (!header.Contains(',') && !header.Trim().Trim('"').Equals("id", StringComparison.OrdinalIgnoreCase))
        {
            return -1;
        }
        var fields = Fields(header).ToArray();
        var index = Array.FindIndex(fields, f => f.Trim().Equals("id", StringComparison.OrdinalIgnoreCase));
        if (index < 0)
        {
            throw new InvalidDataException($"The CSV header '{header}' has no 'id' column.");
        }
        return index;
    }

    internal static string? Field(string line, int column) => Fields(line).ElementAtOrDefault(column);

    internal static IEnumerable<string> Fields(string line)
    {
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                yield return field.ToString();
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        yield return field.ToString();
    }

    private static string? Clean(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
