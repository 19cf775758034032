using System.Globalization;
using System.Net;
using System.Text;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Writes a percentile plot as plain SVG text: x is the percentile on a "1 in N" log scale
/// (50 %, 90 %, 99 %, 99.9 %, ... and the maximum at the right edge), y is the latency on a log scale.
/// </summary>
public static class SvgLatencyPlotWriter
{
    private const int Width = 960;
    private const int Height = 560;
    private const int Left = 80;
    private const int Right = 300;
    private const int Top = 50;
    private const int Bottom = 60;

    private static readonly string[] s_colors =
    [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    ];

    /// <summary>Renders <paramref name="series"/> under <paramref name="title"/>.</summary>
    public static string Render(string title, IReadOnlyList<PlotSeries> series)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(series);
        var drawn = series.Where(s => s.Points.Count > 0).ToArray();
        double finiteMaxX = 3;
        long minY = long.MaxValue, maxY = 1;
        foreach (var s in drawn)
        {
            foreach (var p in s.Points)
            {
                if (p.Percentile < 100)
                    finiteMaxX = Math.Max(finiteMaxX, X(p.Percentile));
                minY = Math.Min(minY, Math.Max(1, p.ValueNs));
                maxY = Math.Max(maxY, p.ValueNs);
            }
        }
        double maxX = Math.Ceiling(finiteMaxX) + 0.5;
        double decadeLow = Math.Floor(Math.Log10(minY == long.MaxValue ? 1 : minY));
        double decadeHigh = Math.Max(decadeLow + 1, Math.Ceiling(Math.Log10(maxY)));
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double PxX(double percentile) => Left + plotWidth * (percentile >= 100 ? maxX : X(percentile)) / maxX;
        double PxY(long ns) => Top + plotHeight * (1 - (Math.Log10(Math.Max(1, ns)) - decadeLow) / (decadeHigh - decadeLow));

        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(Invariant($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n"));
        svg.Append(Invariant($"<text x=\"{Left}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{Escape(title)}</text>\n"));
        // Grid: one horizontal line per decade (and 2x, 5x within it), one vertical per "nines".
        for (double d = decadeLow; d <= decadeHigh; d++)
        {
            foreach (int m in new[] { 1, 2, 5 })
            {
                long ns = (long)(m * Math.Pow(10, d));
                if (Math.Log10(ns) > decadeHigh + 1e-9)
                    continue;
                double y = PxY(ns);
                svg.Append(Invariant($"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Width - Right}\" y2=\"{y:F1}\" stroke=\"{(m == 1 ? "#bbb" : "#eee")}\"/>\n"));
                svg.Append(Invariant($"<text x=\"{Left - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{Escape(Units.Time(ns))}</text>\n"));
            }
        }
        for (int nines = 0; nines <= (int)Math.Ceiling(finiteMaxX); nines++)
        {
            double percentile = 100 * (1 - Math.Pow(10, -nines));
            double x = PxX(percentile);
            string label = nines == 0 ? "0%" : (percentile.ToString("0.#####", CultureInfo.InvariantCulture) + "%");
            svg.Append(Invariant($"<line x1=\"{x:F1}\" y1=\"{Top}\" x2=\"{x:F1}\" y2=\"{Height - Bottom}\" stroke=\"#ddd\"/>\n"));
            svg.Append(Invariant($"<text x=\"{x:F1}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\">{label}</text>\n"));
        }
        double xMax = PxX(100);
        svg.Append(Invariant($"<text x=\"{xMax:F1}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\">max</text>\n"));
        svg.Append(Invariant($"<text x=\"{Left + plotWidth / 2:F0}\" y=\"{Height - 14}\" text-anchor=\"middle\">percentile (log scale of 1 / (1 - p))</text>\n"));
        svg.Append(Invariant($"<text transform=\"translate(18,{Top + plotHeight / 2:F0}) rotate(-90)\" text-anchor=\"middle\">round-trip latency (log scale)</text>\n"));
        svg.Append(Invariant($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"#333\"/>\n"));

        for (int i = 0; i < drawn.Length; i++)
        {
            var s = drawn[i];
            string color = s_colors[i % s_colors.Length];
            var points = string.Join(" ", s.Points.Select(p => Invariant($"{PxX(p.Percentile):F1},{PxY(p.ValueNs):F1}")));
            string dash = s.Dashed ? " stroke-dasharray=\"6,4\"" : "";
            svg.Append(Invariant($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{points}\"/>\n"));
            double ly = Top + 10 + i * 20;
            double lx = Width - Right + 20;
            svg.Append(Invariant($"<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{lx + 24}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>\n"));
            svg.Append(Invariant($"<text x=\"{lx + 30}\" y=\"{ly + 4}\">{Escape(s.Label)}</text>\n"));
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>The x position of a percentile below 100: log10 of "1 in N".</summary>
    private static double X(double percentile) => Math.Log10(1 / Math.Max(1e-9, 1 - percentile / 100));

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
