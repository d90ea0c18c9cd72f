using KeyPool.Core.Outcomes;

namespace KeyPool.Proxy;

/// <summary>What every attempt of one request shares: the client's exchange, the body to send and the deadline.</summary>
/// <param name="Context">The client's exchange.</param>
/// <param name="Body">The body to send upstream (already rewritten).</param>
/// <param name="Path">The validated path below <c>/v1</c>, starting with '/'.</param>
/// <param name="EndUser">The credential names its user (gateway key, JWT): the gateway's conversation id replaces the caller's.</param>
/// <param name="UserId">The end user (for the conversation id), or null for requests of no user.</param>
/// <param name="StripUsageChunk">The gateway asked for stream usage on the client's behalf: drop that chunk on the way back.</param>
/// <param name="Cancellation">Fires at the request's deadline (all attempts together) or when the client leaves.</param>
internal sealed record ProxyExchange(HttpContext Context, string Path, bool EndUser, ReadOnlyMemory<byte> Body, string? UserId, bool StripUsageChunk, CancellationToken Cancellation)
{
    public bool ClientLeft => Context.RequestAborted.IsCancellationRequested;
}

/// <summary>One attempt as the forwarder saw it: the facts for the outcome policy, plus what the host counts.</summary>
/// <param name="Outcome">The facts the policy judges.</param>
/// <param name="Usage">The upstream's usage, when it reported one.</param>
/// <param name="FirstByte">Time to the upstream's response headers, when they came.</param>
/// <param name="Elapsed">Time the attempt took.</param>
/// <param name="Detail">Why the exchange failed (an exception type or message without secrets), for the log.</param>
internal readonly record struct ForwardResult(UpstreamOutcome Outcome, TokenCounts? Usage, TimeSpan? FirstByte, TimeSpan Elapsed, string? Detail = null);
