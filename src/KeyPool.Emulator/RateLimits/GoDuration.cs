using System.Globalization;
using System.Text;

namespace KeyPool.Emulator.RateLimits;

/// <summary>Formats a duration as OpenAI's reset headers do (Go style): "250ms", "1s", "1.5s", "6m0s", "1h0m0s".</summary>
internal static class GoDuration
{
    public static string Format(TimeSpan duration)
    {
        // Rounded up: a client that waits the printed time must find the slot free.
        var milliseconds = (long)Math.Ceiling(Math.Max(0, duration.TotalMilliseconds));
        if (milliseconds == 0)
        {
            return "0s";
        }
        if (milliseconds < 1000)
        {
            return milliseconds.ToString(CultureInfo.InvariantCulture) + "ms";
        }
        var hours = milliseconds / 3_600_000;
        var minutes = milliseconds / 60_000 % 60;
        var seconds = milliseconds / 1000 % 60;
        var fraction = milliseconds % 1000;
        var text = new StringBuilder();
        if (hours > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{hours}h");
        }
        if (hours > 0 || minutes > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{minutes}m");
        }
        text.Append(CultureInfo.InvariantCulture, $"{seconds}");
        if (fraction > 0)
        {
            text.Append('.').Append(fraction.ToString("000", CultureInfo.InvariantCulture).TrimEnd('0'));
        }
        return text.Append('s').ToString();
    }
}
