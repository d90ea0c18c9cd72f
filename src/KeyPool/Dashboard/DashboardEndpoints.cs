using KeyPool.Admin;
using KeyPool.Usage;
using Microsoft.Net.Http.Headers;

namespace KeyPool.Dashboard;

/// <summary>
/// The admin dashboard at <c>/admin</c>. The page and its assets are public and hold no data; every
/// figure is fetched by the page from <c>/api/admin/*</c> with the admin token the user types in.
/// </summary>
internal static class DashboardEndpoints
{
    // Same-origin only, no inline script or style: the page renders upstream messages (state reasons) as text.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    public static IServiceCollection AddKeyPoolDashboard(this IServiceCollection services)
    {
        services.AddSingleton<DashboardAssets>();
        services.AddSingleton<RequestHistory>();
        services.AddSingleton<RequestHistorySampler>();
        services.AddHostedService(sp => sp.GetRequiredService<RequestHistorySampler>());
        return services;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.MapGet("/admin", (DashboardAssets assets, HttpContext context) => Serve(assets, "index.html", context));
        app.MapGet("/admin/{file}", (string file, DashboardAssets assets, HttpContext context) => Serve(assets, file, context));
        app.MapGroup("/api/admin").AddEndpointFilter<AdminAuthFilter>().MapHistory();
        return app;
    }

    private static IResult Serve(DashboardAssets assets, string name, HttpContext context)
    {
        if (assets.Find(name) is not { } asset)
        {
            return TypedResults.NotFound();
        }
        var headers = context.Response.Headers;
        headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
        headers[HeaderNames.XContentTypeOptions] = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // Small files; no-cache keeps a new version of the gateway from running an old script.
        headers[HeaderNames.CacheControl] = "no-cache";
        return TypedResults.Bytes(asset.Content, asset.ContentType);
    }
}
