using System.Net;
using KeyPool.Telemetry;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace KeyPool.Tests.Telemetry;

/// <summary>Real OTLP/HTTP export to a receiver on loopback; one class, so its gateways never trace at the same time.</summary>
public sealed class TracingTests
{
    private const string Prompt = "a prompt that must never be traced 91c2";
    private const string CallerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string CallerSpan = "00f067aa0ba902b7";

    [Fact]
    public async Task WithTheEndpointSet_SpansWithGenAiAttributes_ReachTheReceiver_UnderTheCallersTrace()
    {
        await using var receiver = await HttpReceiver.StartAsync();
        var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            [TelemetrySetup.EndpointVariable] = receiver.BaseAddress.ToString(),
            [TelemetrySetup.ProtocolVariable] = "http/protobuf",
            ["KeyPool:Telemetry:UserId"] = "hash",
        });
        string[] keys = [.. gateway.Keys];
        IReadOnlyList<KeyPool.Emulator.ServedRequest> served;
        try
        {
            using var request = gateway.ChatRequest(GatewayHarness.ChatBody(Prompt), "erin");
            request.Headers.Add("traceparent", $"00-{CallerTrace}-{CallerSpan}-01");
            request.Headers.Add("baggage", "tenant=acme");
            using var response = await gateway.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            served = gateway.ChatServed;
        }
        finally
        {
            await gateway.DisposeAsync(); // the tracer provider flushes its batch on the way out
        }

        Assert.True(await receiver.WaitForAsync(r => r.Received.Any(p => p.Path == "/v1/traces"), TimeSpan.FromSeconds(30)));
        Assert.All(receiver.Received, r => Assert.Contains(r.Path, new[] { "/v1/traces", "/v1/metrics" }));
        var spans = receiver.Received.Where(r => r.Path == "/v1/traces").SelectMany(r => OtlpTraces.Read(r.Body)).Where(s => s.TraceId == CallerTrace).ToList();
        var server = Assert.Single(spans, s => s.Kind == 2); // SPAN_KIND_SERVER
        var admission = Assert.Single(spans, s => s.Name == "keypool.admission");
        var attempt = Assert.Single(spans, s => s.Kind == 3); // SPAN_KIND_CLIENT
        Assert.Equal(CallerSpan, server.ParentSpanId); // the caller's traceparent is honoured
        Assert.Equal(server.SpanId, admission.ParentSpanId);
        Assert.Equal(server.SpanId, attempt.ParentSpanId);
        Assert.Equal(TelemetrySetup.DefaultServiceName, server.Service);
        Assert.Equal("chat grok-4.3", attempt.Name);
        foreach (var span in new[] { server, attempt })
        {
            Assert.Equal("chat", span.Attributes["gen_ai.operation.name"]);
            Assert.Equal("xai", span.Attributes["gen_ai.provider.name"]);
            Assert.Equal("xai", span.Attributes["gen_ai.system"]);
            Assert.Equal("grok-4.3", span.Attributes["gen_ai.request.model"]);
            Assert.Equal("grok-4.3", span.Attributes["gen_ai.response.model"]);
            Assert.True((long)span.Attributes["gen_ai.usage.input_tokens"] > 0);
            Assert.True((long)span.Attributes["gen_ai.usage.output_tokens"] > 0);
            Assert.True(span.Attributes.ContainsKey("gen_ai.usage.cached_tokens"));
            Assert.True((double)span.Attributes["keypool.cost_usd"] > 0);
            Assert.Matches("^[0-9a-f]{12}$", (string)span.Attributes["keypool.team"]);
            Assert.InRange((long)span.Attributes["keypool.key_group"], 1, 2);
        }
        Assert.Equal(attempt.Attributes["keypool.key_group"], admission.Attributes["keypool.key_group"]);
        Assert.True(admission.Attributes.ContainsKey("keypool.queue_ms"));
        Assert.False(string.IsNullOrEmpty(server.Attributes["keypool.tier"] as string));
        var user = (string)server.Attributes["enduser.id"];
        Assert.Matches("^[0-9a-f]{12}$", user); // hashed, as configured
        Assert.NotEqual("erin", user);

        // The trace context stays here: the upstream got neither traceparent nor baggage.
        var upstream = Assert.Single(served);
        Assert.DoesNotContain(upstream.Headers.Keys, h => h.Equals("traceparent", StringComparison.OrdinalIgnoreCase) || h.Equals("baggage", StringComparison.OrdinalIgnoreCase));

        // Nothing secret in any byte exported.
        var payload = string.Concat(receiver.Received.Select(r => System.Text.Encoding.UTF8.GetString(r.Body)));
        Assert.DoesNotContain(Prompt, payload, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayHarness.ClientToken, payload, StringComparison.Ordinal);
        Assert.DoesNotContain("erin", payload, StringComparison.Ordinal);
        Assert.All(keys, key => Assert.DoesNotContain(key, payload, StringComparison.Ordinal));
        Assert.DoesNotContain("xai-", payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutTheEndpoint_NoTracerOrMeterProviderExists_AndKeyPoolsSourceHasNoListener()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            [TelemetrySetup.ProtocolVariable] = "http/protobuf",
            [TelemetrySetup.ServiceNameVariable] = "keypool-test",
        });

        Assert.Equal(200, (await gateway.ChatAsync("frank")).Status);

        Assert.Null(gateway.App.Services.GetService<TracerProvider>());
        Assert.Null(gateway.App.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
        Assert.False(KeyPoolTraces.Source.HasListeners()); // StartActivity returns null: the hot path starts no span
        Assert.Null(KeyPoolTraces.Source.StartActivity("probe"));
    }
}
