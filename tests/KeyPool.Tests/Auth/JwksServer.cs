using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KeyPool.Tests.Auth;

/// <summary>A provider's key set endpoint on real Kestrel (127.0.0.1, free port); the document can be swapped to rotate keys.</summary>
internal sealed class JwksServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private JwksServer(WebApplication app) => _app = app;

    public string Document { get; set; } = """{"keys":[]}""";

    public int Requests => Volatile.Read(ref _requests);

    public Uri Url { get; private set; } = null!;

    public static async Task<JwksServer> StartAsync(string document)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new JwksServer(app) { Document = document };
        app.MapGet("/.well-known/jwks.json", () =>
        {
            Interlocked.Increment(ref server._requests);
            return Results.Text(server.Document, "application/json");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(new Uri(address), "/.well-known/jwks.json");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
