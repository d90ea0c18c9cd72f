using System.CommandLine;
using KeyPool.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary><c>keypool serve [--demo] [--urls …] [--KeyPool:Setting=value …]</c>.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var demo = new Option<bool>("--demo") { Description = "Serve 31 fake keys against the built-in upstream emulator: no real keys needed." };
        var migrate = new Option<bool>("--migrate") { Description = "Apply missing PostgreSQL migrations before serving (same as `keypool db migrate`)." };
        var command = new Command("serve", "Run the gateway.") { TreatUnmatchedTokensAsErrors = false };
        command.Options.Add(demo);
        command.Options.Add(migrate);
        command.SetAction(async (result, cancellationToken) =>
        {
            string[] args = result.GetValue(migrate)
                ? [.. result.UnmatchedTokens, $"--{Storage.StoreChoice.MigrateKey}=true"]
                : result.UnmatchedTokens.ToArray();
            DemoMode? demoMode = null;
            try
            {
                if (result.GetValue(demo))
                {
                    demoMode = await DemoMode.StartAsync(cancellationToken);
                }
                var app = GatewayApp.Build(args, builder => demoMode?.Configure(builder));
                await using (app)
                {
                    await app.StartAsync(cancellationToken);
                    var urls = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
                    demoMode?.PrintWelcome(urls);
                    await app.WaitForShutdownAsync(cancellationToken);
                }
                return 0;
            }
            catch (StartupException exception)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]KeyPool cannot start:[/] {exception.Message}");
                return 1;
            }
            catch (Exception exception) when (exception is Core.Storage.StoreSchemaException or Core.Storage.StoreUnavailableException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]KeyPool cannot start:[/] {exception.Message}");
                return 1;
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException exception)
            {
                AnsiConsole.MarkupLine("[red]KeyPool cannot start: the configuration has problems:[/]");
                foreach (var failure in exception.Failures)
                {
                    AnsiConsole.MarkupLineInterpolated($"  - {failure}");
                }
                return 1;
            }
            finally
            {
                if (demoMode is not null)
                {
                    await demoMode.DisposeAsync();
                }
            }
        });
        return command;
    }
}
