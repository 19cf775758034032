using System.Globalization;
using System.Xml.Linq;
using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

public class SvgLatencyPlotWriterTests
{
    private static readonly XNamespace s_svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Render_TwoSeries_EveryPointInsideThePlotAndLabelsEscaped()
    {
        var series = new[]
        {
            new PlotSeries("stack <64 B> & more", [new PercentilePoint(0, 900), new PercentilePoint(50, 1_000), new PercentilePoint(99.9, 8_000), new PercentilePoint(100, 50_000)]),
            new PlotSeries("baseline", PlotSeries.FromSummary(new LatencySummary(100, 100, 120, 150, 200, 400, 110)), Dashed: true),
        };

        var doc = XDocument.Parse(SvgLatencyPlotWriter.Render("title & co", series));

        var lines = doc.Descendants(s_svg + "polyline").ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Null(lines[0].Attribute("stroke-dasharray"));
        Assert.NotNull(lines[1].Attribute("stroke-dasharray"));
        var frame = doc.Descendants(s_svg + "rect").Single(r => r.Attribute("fill")?.Value == "none");
        double left = Num(frame, "x"), top = Num(frame, "y"), right = left + Num(frame, "width"), bottom = top + Num(frame, "height");
        foreach (var line in lines)
        {
            foreach (string point in line.Attribute("points")!.Value.Split(' '))
            {
                double x = double.Parse(point.Split(',')[0], CultureInfo.InvariantCulture), y = double.Parse(point.Split(',')[1], CultureInfo.InvariantCulture);
                Assert.InRange(x, left, right);
                Assert.InRange(y, top, bottom);
            }
        }
        var texts = doc.Descendants(s_svg + "text").Select(t => t.Value).ToArray();
        Assert.Contains("stack <64 B> & more", texts);
        Assert.Contains("title & co", texts);
        Assert.Contains("max", texts);
    }

    [Fact]
    public void Render_NoSeries_StillAWellFormedEmptyPlot()
    {
        var doc = XDocument.Parse(SvgLatencyPlotWriter.Render("empty", []));

        Assert.Empty(doc.Descendants(s_svg + "polyline"));
    }

    private static double Num(XElement element, string attribute) => double.Parse(element.Attribute(attribute)!.Value, CultureInfo.InvariantCulture);
}
