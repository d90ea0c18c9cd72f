using KeyPool.Metrics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace KeyPool.Telemetry;

/// <summary>
/// Turns OpenTelemetry on when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (environment or configuration), and not
/// otherwise: then no listener exists, KeyPool's ActivitySource starts nothing and the hot path pays one null check.
/// Traces: ASP.NET Core's server span (the caller's W3C <c>traceparent</c> is its parent) and KeyPool's admission and
/// upstream-attempt spans. Metrics: the "KeyPool" meter and ASP.NET Core's, over OTLP too.
/// </summary>
internal static class TelemetrySetup
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ProtocolVariable = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string ServiceNameVariable = "OTEL_SERVICE_NAME";
    public const string DefaultServiceName = "keypool";

    public static IServiceCollection AddKeyPoolTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section);
        if (configuration[EndpointVariable] is not { Length: > 0 } endpoint)
        {
            return services;
        }
        var protocol = Protocol(configuration[ProtocolVariable]);
        var serviceName = configuration[ServiceNameVariable] is { Length: > 0 } name ? name : DefaultServiceName;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing => tracing
                .AddSource(KeyPoolTraces.SourceName)
                .AddAspNetCoreInstrumentation(options => options.Filter = context => context.Request.Path.StartsWithSegments("/v1"))
                .AddOtlpExporter(otlp => Configure(otlp, endpoint, protocol, "v1/traces")))
            .WithMetrics(metrics => metrics
                .AddMeter(KeyPoolMeter.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddOtlpExporter(otlp => Configure(otlp, endpoint, protocol, "v1/metrics")));
        return services;
    }

    // The variable names the base URL; over HTTP each signal has its own path below it (as the specification says).
    private static void Configure(OtlpExporterOptions otlp, string endpoint, OtlpExportProtocol protocol, string signalPath)
    {
        otlp.Protocol = protocol;
        otlp.Endpoint = protocol == OtlpExportProtocol.HttpProtobuf ? new Uri(endpoint.TrimEnd('/') + "/" + signalPath) : new Uri(endpoint);
    }

    // The specification's default is http/protobuf; "grpc" must be asked for.
    internal static OtlpExportProtocol Protocol(string? value) =>
        string.Equals(value?.Trim(), "grpc", StringComparison.OrdinalIgnoreCase) ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
}
