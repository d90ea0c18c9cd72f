using System.Globalization;
using KeyPool.Core.Simulation;
using ScottPlot;

namespace KeyPool.Simulation;

/// <summary>
/// The simulated day as a chart (PNG and SVG): x = hour of the day, y = share of the RPM limit. One thin coloured
/// line per key (load per ten minutes), the pool's average in black, and the traffic offered as a share of the
/// pool's capacity in red (above 100%: KeyPool delays or refuses the excess).
/// </summary>
internal static class LoadChart
{
    private const int Width = 1200, Height = 560;

    /// <summary>Writes <c>load.png</c> and <c>load.svg</c> into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string directory, SimulationResult result, int requestsPerMinute)
    {
        using var plot = Build(result, requestsPerMinute);
        var png = Path.Combine(directory, "load.png");
        var svg = Path.Combine(directory, "load.svg");
        plot.SavePng(png, Width, Height);
        plot.SaveSvg(svg, Width, Height);
        return [png, svg];
    }

    internal static Plot Build(SimulationResult result, int requestsPerMinute)
    {
        var buckets = result.LoadPerKey.Length == 0 ? 0 : result.LoadPerKey[0].Length;
        var offered = new double[buckets];
        for (var m = 0; m < result.OfferedPerMinute.Length && m / 10 < buckets; m++)
        {
            offered[m / 10] += result.OfferedPerMinute[m] / 10.0 / ((double)requestsPerMinute * result.Keys);
        }
        var peak = Math.Max(1, offered.DefaultIfEmpty(0).Max());
        var yMax = Math.Min(3, Math.Ceiling(peak * 2) / 2); // 100%, 150%, … up to 300%
        var hoursPerBucket = result.Seconds / 3600.0 / Math.Max(1, buckets);
        var hours = Enumerable.Range(0, buckets).Select(b => (b + 0.5) * hoursPerBucket).ToArray();

        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var k = 0; k < result.LoadPerKey.Length; k++)
        {
            var line = Line(plot, hours, result.LoadPerKey[k], palette.GetColor(k).WithAlpha(0.6), 1);
            if (k == 0)
            {
                line.LegendText = result.LoadPerKey.Length == 1 ? "the key" : $"each key ({result.LoadPerKey.Length})";
            }
        }
        var average = Enumerable.Range(0, buckets).Select(b => result.LoadPerKey.Average(k => k[b])).ToArray();
        Line(plot, hours, average, Colors.Black, 3).LegendText = "pool average";
        Line(plot, hours, offered, new Color(214, 39, 40), 3).LegendText = "offered / pool capacity";
        var limit = plot.Add.HorizontalLine(1, 1, Colors.Gray, LinePattern.Dashed);
        limit.LegendText = "RPM limit";

        plot.Title("Load per key over the simulated day");
        plot.XLabel("hour of the day");
        plot.YLabel($"share of the RPM limit ({requestsPerMinute.ToString(CultureInfo.InvariantCulture)} per key)");
        plot.Axes.SetLimits(0, 24, 0, yMax * 1.02);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(2);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = share => (share * 100).ToString("0", CultureInfo.InvariantCulture) + "%",
        };
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    private static ScottPlot.Plottables.Scatter Line(Plot plot, double[] xs, double[] ys, Color color, float width)
    {
        var line = plot.Add.ScatterLine(xs, ys, color);
        line.LineWidth = width;
        return line;
    }
}
