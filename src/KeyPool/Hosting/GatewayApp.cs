using KeyPool.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging.Console;

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
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            // The proxy enforces its own limit (KeyPool:Limits:MaxRequestBodyBytes) with an OpenAI-shaped 413.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
            // Kestrel's own refusals (431, 414, 400) in OpenAI's shape; the client's Connection list as sent.
            kestrel.ConfigureEndpointDefaults(KestrelRefusals.Use);
            kestrel.RequestHeaderEncodingSelector = ConnectionHeader.Select;
            // Slow senders (slowloris) are cut by Kestrel before they hold a request slot for long.
            var limits = context.Configuration.GetSection(LimitsOptions.Section).Get<LimitsOptions>() ?? new LimitsOptions();
            var defaults = new LimitsOptions();
            kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout > TimeSpan.Zero ? limits.RequestHeadersTimeout : defaults.RequestHeadersTimeout;
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(
                limits.MinRequestBodyBytesPerSecond > 0 ? limits.MinRequestBodyBytesPerSecond : defaults.MinRequestBodyBytesPerSecond,
                limits.MinRequestBodyGracePeriod > TimeSpan.FromSeconds(1) ? limits.MinRequestBodyGracePeriod : defaults.MinRequestBodyGracePeriod);
        });
        // Single lines with control characters escaped: log lines carry what callers send.
        builder.Logging.AddConsole(o => o.FormatterName = SafeConsoleFormatter.FormatterName)
            .AddConsoleFormatter<SafeConsoleFormatter, ConsoleFormatterOptions>(o => o.TimestampFormat = "HH:mm:ss ");
        configure?.Invoke(builder);
        var drain = builder.Configuration.GetSection(ShutdownOptions.Section).Get<ShutdownOptions>()?.DrainTimeout ?? new ShutdownOptions().DrainTimeout;
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = drain > TimeSpan.Zero ? drain : new ShutdownOptions().DrainTimeout);
        builder.Services.AddKeyPool(builder.Configuration);
        var app = builder.Build();
        OptionsValidation.ThrowIfAnyInvalid(app.Services);
        app.MapKeyPool();
        return app;
    }
}
