using System.Globalization;
using KeyPool.Core.Simulation;

namespace KeyPool.Simulation;

/// <summary>
/// The simulated day as a PNG: x = hour of the day, y = share of the RPM limit. One thin coloured line per key
/// (load per ten minutes), the pool's average in black, and the traffic offered as a share of the pool's
/// capacity in red (above 100%: KeyPool delays or refuses the excess).
/// </summary>
internal static class LoadChart
{
    private const int Width = 1200, Height = 560, Left = 80, Right = 30, Top = 30, Bottom = 60;

    private static readonly (byte, byte, byte)[] Palette =
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ];

    public static void Write(string path, SimulationResult result, int requestsPerMinute)
    {
        var buckets = result.LoadPerKey.Length == 0 ? 0 : result.LoadPerKey[0].Length;
        var offered = new double[buckets];
        for (var m = 0; m < result.OfferedPerMinute.Length; m++)
        {
            offered[m / 10] += result.OfferedPerMinute[m] / 10.0 / ((double)requestsPerMinute * result.Keys);
        }
        var peak = Math.Max(1, offered.DefaultIfEmpty(0).Max());
        var yMax = Math.Min(3, Math.Ceiling(peak * 2) / 2); // 100%, 150%, … up to 300%
        var canvas = new PngCanvas(Width, Height, (255, 255, 255));
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        int X(double hour) => Left + (int)Math.Round(hour / 24 * plotWidth);
        int Y(double share) => Top + plotHeight - (int)Math.Round(Math.Min(share, yMax) / yMax * plotHeight);

        for (var share = 0.0; share <= yMax + 1e-9; share += 0.25)
        {
            canvas.Line(Left, Y(share), Width - Right, Y(share), share == 1 ? ((byte)120, (byte)120, (byte)120) : ((byte)225, (byte)225, (byte)225));
            var label = (share * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
            canvas.Text(Left - 10 - PngCanvas.TextWidth(label), Y(share) - 7, label, (60, 60, 60));
        }
        for (var hour = 0; hour <= 24; hour += 2)
        {
            canvas.Line(X(hour), Top, X(hour), Top + plotHeight, (235, 235, 235));
            var label = hour.ToString(CultureInfo.InvariantCulture) + "h";
            canvas.Text(X(hour) - (PngCanvas.TextWidth(label) / 2), Top + plotHeight + 12, label, (60, 60, 60));
        }
        var hoursPerBucket = result.Seconds / 3600.0 / Math.Max(1, buckets);
        for (var k = 0; k < result.LoadPerKey.Length; k++)
        {
            Series(canvas, result.LoadPerKey[k], Palette[k % Palette.Length], 1);
        }
        var average = Enumerable.Range(0, buckets).Select(b => result.LoadPerKey.Average(k => k[b])).ToArray();
        Series(canvas, average, (0, 0, 0), 3);
        Series(canvas, offered, (214, 39, 40), 3);
        canvas.Line(Left, Top, Left, Top + plotHeight, (0, 0, 0));
        canvas.Line(Left, Top + plotHeight, Width - Right, Top + plotHeight, (0, 0, 0));
        canvas.Save(path);

        void Series(PngCanvas target, double[] values, (byte, byte, byte) color, int thickness)
        {
            for (var b = 1; b < values.Length; b++)
            {
                target.Line(X((b - 0.5) * hoursPerBucket), Y(values[b - 1]), X((b + 0.5) * hoursPerBucket), Y(values[b]), color, thickness);
            }
        }
    }
}
