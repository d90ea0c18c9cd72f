using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using KeyPool.Proxy;

namespace KeyPool.Tests.Usage;

/// <summary>The Responses grammar in the relay, and both usage shapes in the reader, without I/O.</summary>
public sealed class ResponsesStreamStateTests
{
    private const string Completed =
        """{"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","status":"completed","output":[],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":20},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":14},"total_tokens":51,"cost_in_usd_ticks":123456,"num_sources_used":0}}}""";

    [Fact]
    public void Read_ResponsesUsage_AllCountsAndCost()
    {
        var body = """{"id":"resp_1","object":"response","usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":20},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":14},"total_tokens":51,"cost_in_usd_ticks":123456}}""";

        Assert.True(UsageReader.TryRead(Encoding.UTF8.GetBytes(body), out var counts, out _));

        Assert.Equal(new TokenCounts(30, 7, 14, 20, 51) { CostTicks = 123456 }, counts);
    }

    [Fact]
    public void Read_CompletedEvent_UsageInsideTheResponse()
    {
        Assert.True(UsageReader.TryRead(Encoding.UTF8.GetBytes(Completed), out var counts, out _));

        Assert.Equal(new TokenCounts(30, 7, 14, 20, 51) { CostTicks = 123456 }, counts);
    }

    [Fact]
    public void Read_ChatUsageWithoutCost_CostUnknown()
    {
        var body = """{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"cost_in_usd_ticks":null}}""";

        Assert.True(UsageReader.TryRead(Encoding.UTF8.GetBytes(body), out var counts, out var empty));

        Assert.True(empty);
        Assert.Null(counts.CostTicks);
        Assert.Equal(7, counts.Total);
    }

    [Fact]
    public void Read_InProgressEvent_UsageNull_NotFound()
    {
        var created = """{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","usage":null}}""";

        Assert.False(UsageReader.TryRead(Encoding.UTF8.GetBytes(created), out _, out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_CompletedEvent_EndsTheStreamWithItsUsage_WithOrWithoutEventLines(bool eventLines)
    {
        var input = Event("response.created", """{"type":"response.created","sequence_number":0,"response":{"usage":null}}""", eventLines)
            + Event("response.output_text.delta", """{"type":"response.output_text.delta","sequence_number":1,"delta":"usage \"usage\""}""", eventLines)
            + Event("response.completed", Completed, eventLines);

        var (output, state) = await RelayAsync(input);

        Assert.Equal(input, output);
        Assert.True(state.Done);
        Assert.Equal(51, state.Usage!.Value.Total);
        Assert.Equal(123456, state.Usage.Value.CostTicks);
    }

    [Theory]
    [InlineData("response.failed")]
    [InlineData("response.incomplete")]
    [InlineData("error")]
    public async Task Relay_OtherEndEvents_EndTheStream(string type)
    {
        var (_, state) = await RelayAsync(Event(type, $$"""{"type":"{{type}}","sequence_number":0}""", eventLines: true));

        Assert.True(state.Done);
    }

    [Fact]
    public async Task Relay_CutStream_NotDone_ErrorEventNumberedAfterTheLastOne()
    {
        var input = Event("response.created", """{"type":"response.created","sequence_number":0}""", eventLines: false)
            + Event("response.in_progress", """{"type":"response.in_progress","sequence_number":1}""", eventLines: false);
        var (_, state) = await RelayAsync(input);
        var pipe = new Pipe();

        state.WriteError(pipe.Writer);
        await pipe.Writer.CompleteAsync();
        var written = Encoding.UTF8.GetString((await pipe.Reader.ReadAsync()).Buffer);

        Assert.False(state.Done);
        Assert.StartsWith("event: error\ndata: ", written);
        Assert.EndsWith("\n\n", written);
        using var error = JsonDocument.Parse(written.Split('\n')[1]["data: ".Length..]);
        Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
        Assert.Equal(2, error.RootElement.GetProperty("sequence_number").GetInt32());
        Assert.Equal("upstream_stream_failed", error.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public void ToSample_UpstreamCostWins_PriceTableOnlyWhenAbsent_MarkedEstimated()
    {
        var prices = new KeyPool.Core.Money.PriceTable(new Dictionary<string, KeyPool.Core.Money.ModelPrice>
        {
            ["grok-4.3"] = new() { InputPerMillion = 0.20m, CachedInputPerMillion = 0.05m, OutputPerMillion = 0.50m },
        });
        var billed = new TokenCounts(100, 10, 20, 60, 130) { CostTicks = 7 };
        var unbilled = billed with { CostTicks = null };

        var fromUpstream = billed.ToSample(1, 200, prices, "grok-4.3");
        var estimated = unbilled.ToSample(1, 200, prices, "grok-4.3");
        var unknown = unbilled.ToSample(1, 200, prices, "other-model");

        Assert.Equal((7L, false), (fromUpstream.CostTicks, fromUpstream.CostEstimated));
        Assert.Equal((40 * 2_000L + 60 * 500 + 30 * 5_000, true), (estimated.CostTicks, estimated.CostEstimated));
        Assert.Equal((0L, false), (unknown.CostTicks, unknown.CostEstimated));
        Assert.Equal(60 * 1_500L, fromUpstream.SavedTicks);
    }

    [Fact]
    public void Handles_OnlyTheResponsesCreatePath()
    {
        Assert.True(ResponsesStreamState.Handles("/responses"));
        Assert.False(ResponsesStreamState.Handles("/chat/completions"));
        Assert.False(ResponsesStreamState.Handles("/responses/resp_1"));
    }

    private static string Event(string type, string data, bool eventLines) =>
        (eventLines ? $"event: {type}\n" : "") + $"data: {data}\n\n";

    private static async Task<(string Output, ResponsesStreamState State)> RelayAsync(string input)
    {
        var pipe = new Pipe();
        var state = new ResponsesStreamState();
        await SseRelay.RelayEventsAsync(new MemoryStream(Encoding.UTF8.GetBytes(input)), pipe.Writer, stripUsageChunk: false, state, CancellationToken.None, requireDone: true);
        await pipe.Writer.CompleteAsync();
        var result = await pipe.Reader.ReadAsync();
        return (Encoding.UTF8.GetString(result.Buffer), state);
    }
}
