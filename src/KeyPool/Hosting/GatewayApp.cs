using KeyPool.Configuration;

namespace KeyPool.Hosting;

/// <summary>Builds the gateway web application; the command line and the tests both start it through here.</summary>
internal static class GatewayApp
{
    /// <param name="args">Configuration arguments (<c>--urls</c>, <c>--KeyPool:AdminToken=…</c>).</param>
    /// <param name="configure">Extra set-up before services are composed (tests add configuration and log capture).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // The proxy enforces its own limit (KeyPool:Limits:MaxRequestBodyBytes) with an OpenAI-shaped 413.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
        });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        configure?.Invoke(builder);
        builder.Services.AddKeyPool(builder.Configuration);
        var app = builder.Build();
        OptionsValidation.ThrowIfAnyInvalid(app.Services);
        app.MapKeyPool();
        return app;
    }
}
