using KeyPool.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace KeyPool.Auth;

/// <summary>
/// The provider's JSON Web Key Set, fetched once and kept: fetched again after the refresh
/// interval, or sooner when a token names a key id not in the set (keys rotated), but never more
/// than once per <see cref="MinRefreshGap"/> so tokens with made-up key ids cannot hammer the provider.
/// When a fetch fails the last good set stays in use.
/// </summary>
internal sealed class JwksKeySource : IDisposable
{
    public static readonly TimeSpan MinRefreshGap = TimeSpan.FromSeconds(30);
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly Uri? _url;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeProvider _time;
    private readonly ILogger<JwksKeySource> _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _fetchLock = new(1, 1);
    private volatile KeySet? _current;
    private long _lastAttempt = long.MinValue;

    public JwksKeySource(IOptions<GatewayOptions> options, TimeProvider time, ILogger<JwksKeySource> logger)
    {
        var jwt = options.Value.Auth.Jwt;
        _url = string.IsNullOrWhiteSpace(jwt.JwksUrl) ? null : new Uri(jwt.JwksUrl);
        _refreshInterval = jwt.JwksRefreshInterval;
        _time = time;
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), AllowAutoRedirect = false })
        {
            Timeout = TimeSpan.FromSeconds(10),
            MaxResponseContentBufferSize = MaxDocumentBytes,
        };
    }

    public bool Enabled => _url is not null;

    /// <summary>The current key set, fetching it when missing or due; null when none could ever be fetched.</summary>
    public async ValueTask<KeySet?> GetAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is not null && _time.GetElapsedTime(current.FetchedAt) < _refreshInterval)
        {
            return current;
        }
        return await FetchAsync(force: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fetches again after a token named an unknown key id; the new set, or null when too soon or unchanged.</summary>
    public async Task<KeySet?> RefreshForUnknownKeyAsync(KeySet? seen, CancellationToken cancellationToken)
    {
        var fresh = await FetchAsync(force: true, cancellationToken).ConfigureAwait(false);
        return fresh is not null && !ReferenceEquals(fresh, seen) ? fresh : null;
    }

    private async Task<KeySet?> FetchAsync(bool force, CancellationToken cancellationToken)
    {
        await _fetchLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = _current;
            // Another caller may have fetched while this one waited.
            if (!force && current is not null && _time.GetElapsedTime(current.FetchedAt) < _refreshInterval)
            {
                return current;
            }
            if (_lastAttempt != long.MinValue && _time.GetElapsedTime(_lastAttempt) < MinRefreshGap)
            {
                return current;
            }
            _lastAttempt = _time.GetTimestamp();
            try
            {
                var json = await _http.GetStringAsync(_url, cancellationToken).ConfigureAwait(false);
                var set = new JsonWebKeySet(json);
                var keys = set.GetSigningKeys();
                if (keys.Count == 0)
                {
                    AuthLog.JwksFetchFailed(_logger, _url!.ToString(), "the set has no usable signing key");
                    return current;
                }
                var fresh = new KeySet(keys, _time.GetTimestamp());
                _current = fresh;
                AuthLog.JwksLoaded(_logger, _url!.ToString(), keys.Count);
                return fresh;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested
                && exception is HttpRequestException or ArgumentException or System.Text.Json.JsonException or TaskCanceledException)
            {
                AuthLog.JwksFetchFailed(_logger, _url!.ToString(), exception.GetType().Name + ": " + exception.Message);
                return current;
            }
        }
        finally
        {
            _fetchLock.Release();
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _fetchLock.Dispose();
    }

    /// <summary>One fetched set of signing keys.</summary>
    internal sealed record KeySet(IList<SecurityKey> Keys, long FetchedAt);
}
