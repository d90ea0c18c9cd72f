using System.Runtime.CompilerServices;
using KeyPool.Core.Users;

namespace KeyPool.CommandLine;

/// <summary>
/// Streams user ids from a file: one id per line, or CSV whose header names an <c>id</c> column
/// (quoted fields allowed). The whole file is never held in memory. A line whose id breaks <see cref="UserIdGrammar"/>
/// is skipped and reported (<see cref="Rejected"/>, <see cref="RejectedLines"/>): one bad line in millions must not stop
/// an import, nor enter an id no request could use.
/// </summary>
internal sealed class UserIdFileReader(string path)
{
    private const int LinesKept = 10;

    private readonly List<long> _rejectedLines = [];
    private long _bytesRead;
    private long _rejected;

    /// <summary>Ids skipped because they break the user id grammar.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>The line numbers (from 1) of the first skipped ids.</summary>
    public IReadOnlyList<long> RejectedLines => _rejectedLines;

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
        long number = 1;
        if (column < 0)
        {
            // A plain list: the first line is an id too.
            if (Accept(first, number) is { } id)
            {
                yield return id;
            }
        }
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            number++;
            Volatile.Write(ref _bytesRead, stream.Position);
            if (Accept(column < 0 ? line : Field(line, column), number) is { } id)
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

    private string? Accept(string? value, long number)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        var id = value.Trim();
        if (UserIdGrammar.IsValid(id))
        {
            return id;
        }
        if (Interlocked.Increment(ref _rejected) <= LinesKept)
        {
            _rejectedLines.Add(number);
        }
        return null;
    }
}
