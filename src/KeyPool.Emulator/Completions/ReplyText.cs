using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace KeyPool.Emulator.Completions;

/// <summary>
/// Deterministic reply text: the same prompt always gets the same words, so tests can compare
/// streamed and non-streamed answers and see which prompt a reply belongs to.
/// </summary>
internal static class ReplyText
{
    private static readonly string[] Words =
    [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
        "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
        "yankee", "zulu", "grok", "token", "stream", "cache", "budget", "reply",
    ];

    /// <summary>A stable fingerprint of the prompt (role and text of each message, in order).</summary>
    public static byte[] Fingerprint(IEnumerable<(string Role, string Text)> messages)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (role, text) in messages)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(role));
            hash.AppendData([0]);
            hash.AppendData(Encoding.UTF8.GetBytes(text));
            hash.AppendData([0]);
        }
        return hash.GetHashAndReset();
    }

    /// <summary>"Emulated reply 1a2b3c4d: word word …" with one word per completion token.</summary>
    public static string Create(byte[] fingerprint, int completionTokens)
    {
        var text = new StringBuilder("Emulated reply ").Append(Convert.ToHexStringLower(fingerprint.AsSpan(0, 4))).Append(':');
        var state = BinaryPrimitives.ReadUInt64LittleEndian(fingerprint.AsSpan(4, 8));
        for (var i = 0; i < completionTokens; i++)
        {
            text.Append(' ').Append(Words[(int)(SplitMix(ref state) % (ulong)Words.Length)]);
        }
        return text.ToString();
    }

    /// <summary>Cuts the text into <paramref name="count"/> pieces of near-equal length (some may be empty when the text is short).</summary>
    public static string[] Split(string text, int count)
    {
        var pieces = new string[count];
        for (var i = 0; i < count; i++)
        {
            var start = (int)((long)text.Length * i / count);
            var end = (int)((long)text.Length * (i + 1) / count);
            pieces[i] = text[start..end];
        }
        return pieces;
    }

    // A fixed generator rather than System.Random, whose sequence is not promised across runtimes.
    private static ulong SplitMix(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
