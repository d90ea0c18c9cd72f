namespace KeyPool.CommandLine;

/// <summary>Configuration for commands that do not start the web host, in the same order as <c>serve</c>: appsettings.json, environment, arguments.</summary>
internal static class CliConfiguration
{
    public static IConfigurationRoot Build(IReadOnlyList<string> args) =>
        new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args.ToArray())
            .Build();

    public static string KeyPrefix(IConfiguration configuration) =>
        configuration["KeyPool:Keys:EnvPrefix"] is { Length: > 0 } prefix ? prefix : Core.Keys.KeyDiscovery.DefaultPrefix;
}
