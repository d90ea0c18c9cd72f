using KeyPool.Core.Simulation;
using KeyPool.Simulation;

namespace KeyPool.Tests.Simulation;

public sealed class LoadChartTests
{
    [Fact]
    public void Writes_a_png_and_an_svg_with_axis_titles_and_a_legend()
    {
        // Two keys over a day of 144 ten-minute buckets; the offered load rises above the capacity at noon.
        var load = new[] { Enumerable.Range(0, 144).Select(b => b / 144.0).ToArray(), Enumerable.Range(0, 144).Select(_ => 0.5).ToArray() };
        var offered = Enumerable.Range(0, 1440).Select(m => m < 720 ? 60 : 240).ToArray();
        var result = new SimulationResult(2, 86_400, 1, 1, 1, 0, 0, 0, 0, 0, [60, 60], [1, 1], offered, load, TimeSpan.Zero);
        var directory = Directory.CreateTempSubdirectory("keypool-chart-");
        try
        {
            var written = LoadChart.Write(directory.FullName, result, requestsPerMinute: 60);

            Assert.Equal(["load.png", "load.svg"], written.Select(Path.GetFileName));
            var png = File.ReadAllBytes(written[0]);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
            Assert.True(png.Length > 10_000, $"a drawn chart, not an empty image ({png.Length} bytes)");
            var svg = File.ReadAllText(written[1]);
            Assert.Contains("<svg", svg);
            foreach (var text in new[] { "hour of the day", "share of the RPM limit", "each key (2)", "pool average", "offered / pool capacity", "200%" })
            {
                Assert.Contains(text, svg);
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
