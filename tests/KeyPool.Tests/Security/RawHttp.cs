using System.Net.Sockets;
using System.Text;

namespace KeyPool.Tests.Security;

/// <summary>Reads HTTP/1.1 answers off a raw connection, for tests that must control the connection itself.</summary>
internal static class RawHttp
{
    /// <summary>One whole answer (by its Content-Length or chunked end), or everything until the server closes.</summary>
    public static async Task<string> ReadAnswerAsync(NetworkStream stream, bool untilClosed)
    {
        var answer = new StringBuilder();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
                if (!untilClosed && Complete(answer.ToString()))
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
            // closed with a reset: what arrived before it is the answer
        }
        return answer.ToString();
    }

    private static bool Complete(string answer)
    {
        var end = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }
        var head = answer[..end].Split("\r\n");
        if (head.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)))
        {
            return answer.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal);
        }
        var length = head.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        return length is not null && answer.Length - end - 4 >= int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
