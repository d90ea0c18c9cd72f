using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KeyPool.Tests.Infrastructure;

/// <summary>
/// A tiny real HTTP server on 127.0.0.1 that records every POST (path and body): a webhook receiver for alerts, an
/// OTLP/HTTP receiver for traces. It can refuse the first few posts to test retries.
/// </summary>
public sealed class HttpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _failuresLeft;

    private HttpReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<(string Path, byte[] Body)> Received { get; } = new();

    /// <summary>Posts answered 500 (before the failures ran out).</summary>
    public int Refused => _refused;

    private int _refused;

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<HttpReceiver> StartAsync(int failFirst = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new HttpReceiver(app) { _failuresLeft = failFirst };
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (Interlocked.Decrement(ref receiver._failuresLeft) >= 0)
            {
                Interlocked.Increment(ref receiver._refused);
                return Results.StatusCode(500);
            }
            receiver.Received.Enqueue((context.Request.Path.Value ?? "", body.ToArray()));
            return Results.Ok();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return receiver;
    }

    public IReadOnlyList<string> Texts => Received.Select(r => System.Text.Encoding.UTF8.GetString(r.Body)).ToArray();

    /// <summary>Waits until <paramref name="done"/> holds, or <paramref name="timeout"/> passes.</summary>
    public async Task<bool> WaitForAsync(Func<HttpReceiver, bool> done, TimeSpan timeout)
    {
        return await Poll.TimeUntilAsync(() => Task.FromResult(done(this)), timeout) is not null;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
