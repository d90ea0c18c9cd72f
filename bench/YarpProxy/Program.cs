// A bare YARP proxy: every path forwarded to --upstream, nothing else (no auth, no routing, no logging below
// Warning). The benchmark's reference for what ASP.NET Core + YARP can forward on this machine.
using Yarp.ReverseProxy.Configuration;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var upstream = builder.Configuration["upstream"] ?? "http://127.0.0.1:18081/";
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "{**rest}" } }],
    [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["one"] = new() { Address = upstream } } }]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();
