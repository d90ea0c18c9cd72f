using KeyPool.Configuration;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// Which <c>/v1</c> endpoints a caller may reach with the pool's keys. The path is validated first
/// (no dot segments, backslashes, encoded slashes or other escapes: it can never leave the upstream's
/// base path), then matched segment by segment against <c>METHOD path</c> entries.
/// </summary>
internal sealed class EndpointAllowList
{
    private readonly Entry[] _everyone;
    private readonly Entry[] _clientTokens;

    public EndpointAllowList(IOptions<UpstreamOptions> options)
    {
        _everyone = Parse(options.Value.AllowedPaths ?? UpstreamOptions.DefaultAllowedPaths);
        _clientTokens = [.. _everyone, .. Parse(options.Value.ClientTokenAllowedPaths)];
    }

    public enum Verdict
    {
        Allowed,
        InvalidPath,
        NotAllowed,
    }

    /// <summary>Checks the request; on success <paramref name="rest"/> is the path below <c>/v1</c>, starting with '/'.</summary>
    public Verdict Check(HttpContext context, bool endUser, out string rest)
    {
        rest = "";
        var path = context.Request.Path.Value ?? "";
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path;
        if (!path.StartsWith("/v1/", StringComparison.Ordinal) || !IsClean(path.AsSpan(4)) || raw.Contains('%') || raw.Contains('\\'))
        {
            return Verdict.InvalidPath;
        }
        rest = path[3..];
        var method = context.Request.Method;
        foreach (var entry in endUser ? _everyone : _clientTokens)
        {
            if (entry.Matches(method, rest.AsSpan(1)))
            {
                return Verdict.Allowed;
            }
        }
        return Verdict.NotAllowed;
    }

    /// <summary>Every segment non-empty, not <c>.</c> or <c>..</c>, of letters, digits and <c>-_.:~</c> only.</summary>
    internal static bool IsClean(ReadOnlySpan<char> path)
    {
        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            if (segment.IsEmpty || segment is "." or "..")
            {
                return false;
            }
            foreach (var c in segment)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '~'))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static Entry[] Parse(IEnumerable<string> entries) =>
        entries.Select(e => e.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(p => p.Length == 2)
            .Select(p => new Entry(p[0].ToUpperInvariant(), p[1].Trim('/').Split('/')))
            .ToArray();

    private sealed record Entry(string Method, string[] Segments)
    {
        public bool Matches(string method, ReadOnlySpan<char> path)
        {
            if (!string.Equals(Method, method, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            var index = 0;
            foreach (var range in path.Split('/'))
            {
                if (index >= Segments.Length || (Segments[index] != "*" && !path[range].Equals(Segments[index], StringComparison.Ordinal)))
                {
                    return false;
                }
                index++;
            }
            return index == Segments.Length;
        }
    }
}
