using System.Net.Http.Headers;
using System.Text.Json;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Models;
using KeyPool.Core.Routing;
using KeyPool.Hosting;
using KeyPool.Proxy;
using Microsoft.Extensions.Options;

namespace KeyPool.Models;

/// <summary>Reads the upstream's model list (<c>GET /v1/models</c>) with a usable key, at start and every <see cref="ModelsOptions.RefreshInterval"/>.</summary>
internal sealed class ModelListRefresher(
    ModelCatalog catalog, KeyPoolRouter router, UpstreamClient upstream, IOptions<ModelsOptions> options, TimeProvider time, ILogger<ModelListRefresher> logger)
    : PeriodicService(time, logger)
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    protected override TimeSpan Interval => options.Value.RefreshInterval;

    protected override Task TickAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    /// <summary>Reads the list; on any failure the last list (or none) stays and the gateway keeps serving.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (router.Pool.Members.FirstOrDefault(m => m.Health.State == KeyState.Active) is not { } member)
        {
            return;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, upstream.BaseUrl + "/models");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", member.Key.Secret);
        request.Headers.UserAgent.Add(UpstreamClient.OwnAgent);
        using var deadline = new CancellationTokenSource(ReadTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            using var response = await upstream.Invoker.SendAsync(request, linked.Token);
            if (!response.IsSuccessStatusCode)
            {
                Log.ModelListUnavailable(logger, $"status {(int)response.StatusCode}");
                return;
            }
            using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(linked.Token), cancellationToken: linked.Token);
            if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                Log.ModelListUnavailable(logger, "no data array");
                return;
            }
            var ids = data.EnumerateArray()
                .Select(m => m.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null)
                .OfType<string>().ToArray();
            catalog.Load(ids);
            Log.ModelListLoaded(logger, ids.Length);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or JsonException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.ModelListUnavailable(logger, exception.GetType().Name);
        }
    }
}
