using KeyPool.Auth;
using KeyPool.Errors;
using KeyPool.Proxy;
using Microsoft.Extensions.Options;
using Prometheus;

namespace KeyPool.Metrics;

/// <summary><c>GET /metrics</c> in the Prometheus text format; open unless <c>KeyPool:Metrics:RequireAdminToken</c>.</summary>
internal static class MetricsEndpoint
{
    private const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly Refusal InvalidToken = new(401, OpenAiError.Authentication, "invalid_admin_token",
        "/metrics needs Authorization: Bearer <admin token> (KeyPool:Metrics:RequireAdminToken is on).");

    public static IServiceCollection AddKeyPoolMetrics(this IServiceCollection services)
    {
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section);
        services.AddSingleton<KeyPoolMeter>();
        services.AddSingleton<GatewayMetrics>();
        return services;
    }

    public static WebApplication MapMetrics(this WebApplication app)
    {
        // Built now, not at the first scrape: the latency listener must hear requests from the start.
        _ = app.Services.GetRequiredService<GatewayMetrics>();
        app.MapGet("/metrics", ScrapeAsync);
        return app;
    }

    private static async Task ScrapeAsync(
        HttpContext context, GatewayMetrics metrics, CallerAuthenticator auth, CallerThrottles throttles, IOptions<MetricsOptions> options, CancellationToken cancellationToken)
    {
        var throttle = throttles.Admin; // the admin token opens /metrics: guesses count as admin attempts
        if (options.Value.RequireAdminToken && !auth.IsAdmin(context.Request))
        {
            await throttle.Failed(context, "/metrics", InvalidToken).ExecuteAsync(context);
            return;
        }
        // Buffered: a failed scrape answers 500 instead of a truncated exposition.
        using var buffer = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(buffer, ExpositionFormat.PrometheusText, cancellationToken);
        context.Response.ContentType = ContentType;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = buffer.Length;
        buffer.Position = 0;
        await buffer.CopyToAsync(context.Response.Body, cancellationToken);
    }
}
