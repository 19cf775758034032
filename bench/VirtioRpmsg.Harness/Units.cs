using System.Globalization;

namespace VirtioRpmsg.Harness;

/// <summary>Number formatting for reports (invariant culture, readable units).</summary>
public static class Units
{
    /// <summary>"850 ns", "1.23 us", "45.6 us", "12.3 ms".</summary>
    public static string Time(double nanoseconds) => nanoseconds switch
    {
        < 1_000 => F(nanoseconds, "0") + " ns",
        < 10_000 => F(nanoseconds / 1e3, "0.00") + " us",
        < 1_000_000 => F(nanoseconds / 1e3, "0.0") + " us",
        < 1_000_000_000 => F(nanoseconds / 1e6, "0.0") + " ms",
        _ => F(nanoseconds / 1e9, "0.00") + " s",
    };

    /// <summary>"1,234,567".</summary>
    public static string Count(double value) => F(Math.Round(value), "#,0");

    /// <summary>"3.2x".</summary>
    public static string Ratio(double value) => F(value, value < 10 ? "0.00" : "0.0") + "x";

    /// <summary>"12.3".</summary>
    public static string Decimal(double value, string format = "0.0") => F(value, format);

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
