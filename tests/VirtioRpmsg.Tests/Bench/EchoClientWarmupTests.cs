using System.Diagnostics;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>
/// An echo case's unrecorded warm-up lasts at least its round-trip count and at least its minimum time
/// (<see cref="EchoRequest.MinWarmupTime"/>), and exactly <see cref="EchoRequest.Count"/> round trips are recorded after it.
/// </summary>
public class EchoClientWarmupTests
{
    private const uint ServerAddress = 0x400;

    private static (EchoClient Client, EchoResult Result, long Before) Run(EchoRequest request)
    {
        using var pair = RpmsgPair.Create(request.Wait, request.Wait, eventFd: true, name: "warmup-test");
        var server = new EchoServer(0);
        var client = new EchoClient(ServerAddress, request.PayloadSize, request.Depth, request.Warmup, request.MinWarmupTime, request.Count, 0);
        using var serverEndpoint = pair.Remote.CreateEndpoint(ServerAddress, server.OnMessage);
        using var clientEndpoint = pair.Host.CreateEndpoint(0x401, client.OnReply);
        pair.Start();
        long before = Stopwatch.GetTimestamp();
        var result = EchoRuns.Complete(client, clientEndpoint, ServerAddress, request, [], () => "", CancellationToken.None);
        return (client, result, before);
    }

    [Fact]
    public void MinWarmupTime_MeasuringStartsNoEarlierAndRecordsExactlyTheCount()
    {
        var request = new EchoRequest(64, RpmsgWaitStrategy.Hybrid, 50, 4, 10) { MinWarmupTime = TimeSpan.FromMilliseconds(300) };

        var (client, result, before) = Run(request);

        Assert.True(Stopwatch.GetElapsedTime(before, client.MeasuredStart) >= request.MinWarmupTime,
            $"measuring started {Stopwatch.GetElapsedTime(before, client.MeasuredStart).TotalMilliseconds:F0} ms after the start message");
        Assert.Equal(50, client.Recorder.Count);
        Assert.Equal(client.Sent, client.Received);
        Assert.True(result.RoundTripsPerSecond > 0);
    }

    [Fact]
    public void NoMinWarmupTime_WarmsUpForTheCountOnly()
    {
        var request = new EchoRequest(64, RpmsgWaitStrategy.Hybrid, 50, 4, 10);

        var (client, _, _) = Run(request);

        Assert.Equal(60, client.Received);
        Assert.Equal(50, client.Recorder.Count);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(61_000)]
    public void Validate_MinWarmupTimeOutOfRange_ThrowsNamingTheField(int milliseconds)
    {
        var request = new EchoRequest(64, RpmsgWaitStrategy.BusyPoll, 10) { MinWarmupTime = TimeSpan.FromMilliseconds(milliseconds) };

        var e = Assert.Throws<ArgumentOutOfRangeException>(request.Validate);

        Assert.Equal("MinWarmupTime", e.ParamName);
    }

    [Fact]
    public void Validate_CountBelowDepth_ThrowsNamingCount()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(new EchoRequest(64, RpmsgWaitStrategy.BusyPoll, 7, 8).Validate);

        Assert.Equal("Count", e.ParamName);
        Assert.Contains("depth (8)", e.Message);
    }

    [Fact]
    public void MinWarmupTime_WithCountEqualToDepth_SendsNoMoreThanTheWarmupAndTheCount()
    {
        var request = new EchoRequest(64, RpmsgWaitStrategy.Hybrid, 8, 8, 5) { MinWarmupTime = TimeSpan.FromMilliseconds(50) };

        var (client, _, _) = Run(request);

        Assert.Equal(8, client.Recorder.Count);
        Assert.True(client.Received >= 13, $"{client.Received} replies");
        Assert.Equal(client.Received, client.Sent);
    }

    [Fact]
    public void EchoPlan_FullRunsWarmEveryEchoCaseForHalfASecond_QuickRunsDoNot()
    {
        Assert.All(EchoPlan.EchoRequests(new ReportOptions()), r => Assert.Equal(TimeSpan.FromMilliseconds(500), r.MinWarmupTime));
        Assert.All(EchoPlan.EchoRequests(new ReportOptions { Quick = true }), r => Assert.Equal(TimeSpan.Zero, r.MinWarmupTime));
    }
}
