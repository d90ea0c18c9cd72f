namespace KeyPool.Proxy;

/// <summary>
/// Sends one attempt with one key and relays a successful answer; error answers are returned as facts,
/// never written, so the caller may try another key. Picked by <c>KeyPool:Upstream:Forwarder</c>.
/// </summary>
internal interface IUpstreamForwarder
{
    /// <summary>The deadline of a whole request, retries included.</summary>
    TimeSpan Timeout { get; }

    Task<ForwardResult> ForwardAsync(ProxyExchange exchange, Core.Keys.UpstreamKey key);
}
