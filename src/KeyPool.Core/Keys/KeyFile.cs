using System.Text.Json;
using System.Text.Json.Serialization;

namespace KeyPool.Core.Keys;

/// <summary>
/// The keys file (<c>KeyPool:Keys:File</c>): keys with their group, and optionally a team and budgets.
/// <code>{"keys":[{"group":1,"key":"xai-…","team":"team-a","requestsPerMinute":480,"tokensPerMinute":2000000}]}</code>
/// A bare array of the same entries is accepted too.
/// </summary>
public static class KeyFile
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>One key of the file.</summary>
    public sealed class Entry
    {
        /// <summary>The key group (≥ 1).</summary>
        public int Group { get; set; }

        /// <summary>The key.</summary>
        public string? Key { get; set; }

        /// <summary>The upstream team; keys of one team share a budget.</summary>
        public string? Team { get; set; }

        /// <summary>Budget override for this group's team.</summary>
        public int? RequestsPerMinute { get; set; }

        /// <summary>Budget override for this group's team.</summary>
        public long? TokensPerMinute { get; set; }
    }

    private sealed class Document
    {
        [JsonPropertyName("keys")]
        public List<Entry>? Keys { get; set; }
    }

    /// <summary>What a file holds: keys and per-group settings, or the problems that make it unusable.</summary>
    public sealed record Contents(IReadOnlyList<UpstreamKey> Keys, IReadOnlyDictionary<int, GroupSettings> Groups, IReadOnlyList<string> Problems);

    /// <summary>Reads a keys file; every problem is listed (never with key material).</summary>
    public static Contents Parse(ReadOnlySpan<byte> utf8, string name)
    {
        List<Entry>? entries;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            entries = utf8.TrimStart(" \t\r\n"u8).StartsWith("["u8)
                ? JsonSerializer.Deserialize<List<Entry>>(ref reader, Json)
                : JsonSerializer.Deserialize<Document>(ref reader, Json)?.Keys;
        }
        catch (JsonException exception)
        {
            return new Contents([], new Dictionary<int, GroupSettings>(), [$"{name} is not valid JSON (line {exception.LineNumber + 1})."]);
        }
        var problems = new List<string>();
        var keys = new Dictionary<int, UpstreamKey>();
        var groups = new Dictionary<int, GroupSettings>();
        foreach (var (entry, index) in (entries ?? []).Select((e, i) => (e, i)))
        {
            if (entry.Group < 1)
            {
                problems.Add($"{name}: entry {index + 1} has group {entry.Group}; groups start at 1.");
                continue;
            }
            if (string.IsNullOrWhiteSpace(entry.Key))
            {
                problems.Add($"{name}: group {entry.Group} has no key.");
                continue;
            }
            if (!keys.TryAdd(entry.Group, new UpstreamKey(entry.Group, entry.Key.Trim())))
            {
                problems.Add($"{name}: group {entry.Group} is given twice.");
                continue;
            }
            if (entry.RequestsPerMinute is < 1 || entry.TokensPerMinute is < 1)
            {
                problems.Add($"{name}: group {entry.Group} has a budget below 1.");
            }
            if (entry.Team is not null || entry.RequestsPerMinute is not null || entry.TokensPerMinute is not null)
            {
                groups[entry.Group] = new GroupSettings { Team = entry.Team, RequestsPerMinute = entry.RequestsPerMinute, TokensPerMinute = entry.TokensPerMinute };
            }
        }
        return new Contents(keys.Values.OrderBy(k => k.Group).ToArray(), groups, problems);
    }
}
