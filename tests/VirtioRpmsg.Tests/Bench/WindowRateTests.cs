using System.Diagnostics;
using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

public class WindowRateTests
{
    [Fact]
    public void Median_OneSlowWindow_IsTheRateOfTheOthers()
    {
        long w = Stopwatch.Frequency / 1000; // one window per millisecond
        long[] stamps = [0, w, 2 * w, 3 * w, 103 * w, 104 * w]; // the fourth window lost 100 ms
        double expected = WindowRate.Window * 1000.0;
        Assert.Equal(expected, WindowRate.Median(stamps, stamps.Length)!.Value, 6);
    }

    [Fact]
    public void Median_EvenNumberOfWindows_AveragesTheMiddleTwo()
    {
        long f = Stopwatch.Frequency;
        long[] stamps = [0, f, 3 * f]; // windows of 1 s and 2 s
        Assert.Equal((WindowRate.Window + WindowRate.Window / 2.0) / 2, WindowRate.Median(stamps, 3)!.Value, 6);
    }

    [Fact]
    public void Median_FewerThanTwoStamps_IsNull()
    {
        Assert.Null(WindowRate.Median([5], 1));
        Assert.Null(WindowRate.Median(new long[4], 1));
    }

    [Fact]
    public void Stamps_HasRoomForEveryWindowAndTheStart()
    {
        Assert.Equal(3, WindowRate.Stamps(WindowRate.Window).Length);
        Assert.Equal(2, WindowRate.Stamps(WindowRate.Window - 1).Length);
    }
}
