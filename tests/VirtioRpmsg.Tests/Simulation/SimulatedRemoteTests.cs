using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// <see cref="SimulatedRemote"/> and its command protocol in one process: both sides over one shared-memory
/// file (the simulated default platform), the doorbells passed over a socket pair as between processes.
/// </summary>
public sealed class SimulatedRemoteTests : IDisposable
{
    private readonly SimulatedRemotePair _pair = new();
    private readonly SimulatedRemote _remote;
    private readonly RpmsgDevice _host;

    public SimulatedRemoteTests()
    {
        _remote = _pair.Remote;
        _host = _pair.Host;
        _pair.StartHost();
        Assert.True(_remote.WaitForLinkUp(Bounded.Limit));
    }

    [Fact]
    public void Start_ResourceTable_OffersNameServiceAndEventIndex()
    {
        Assert.Equal(SimulatedRemote.DeviceFeatures, _pair.HostResources.RpmsgVdev!.DeviceFeatures);
        Assert.Equal(SimulatedRemote.DeviceFeatures, _host.NegotiatedFeatures);
    }

    [Fact]
    public void Services_EchoAndSink_EchoReturnsAndSinkCounts()
    {
        using var ept = _host.CreateEndpoint();
        byte[] reply = new byte[ept.MaxPayload];
        ept.SendTo(_remote.EchoAddress, "hello"u8, Bounded.Limit);
        var r = ept.Receive(reply, Bounded.Limit);
        Assert.Equal(_remote.EchoAddress, r.Source);
        Assert.Equal("hello"u8.ToArray(), reply[..r.Length]);

        ept.SendTo(_remote.SinkAddress, "12345"u8, Bounded.Limit);
        ept.SendTo(_remote.SinkAddress, "678"u8, Bounded.Limit);
        var deadline = DateTime.UtcNow + Bounded.Limit;
        while (_remote.SinkMessages < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the sink did not count both messages");
            Thread.Yield();
        }
        Assert.Equal(8, _remote.SinkBytes);
        Assert.False(ept.TryReceive(reply, TimeSpan.Zero, out _), "the sink must not answer");
    }

    [Fact]
    public void Sink_ManySendersAndTheEcho_CountsEveryMessageAndByteExactly()
    {
        // The sink and echo counters are plain single-writer increments: exact only because callbacks never run
        // at once. Two host threads send to the sink while echoes run in between, and nothing may be lost.
        const int PerSender = 2_000;
        using var echo = _host.CreateEndpoint();
        byte[] reply = new byte[echo.MaxPayload];
        long messages = _remote.SinkMessages, bytes = _remote.SinkBytes, echoed = _remote.Echoed;
        var senders = Enumerable.Range(1, 2).Select(n => new Thread(() =>
        {
            using var ept = _host.CreateEndpoint();
            var payload = new byte[n * 7];
            for (int i = 0; i < PerSender; i++)
                ept.SendTo(_remote.SinkAddress, payload, Bounded.Limit);
        })).ToArray();
        foreach (var t in senders)
            t.Start();
        for (int i = 0; i < 100; i++)
        {
            echo.SendTo(_remote.EchoAddress, "x"u8, Bounded.Limit);
            echo.Receive(reply, Bounded.Limit);
        }
        foreach (var t in senders)
            Assert.True(t.Join(Bounded.Limit));
        // The echo callback counts after its reply is sent, so the 100th reply can arrive before the 100th count.
        var deadline = DateTime.UtcNow + Bounded.Limit;
        while (_remote.SinkMessages - messages < 2 * PerSender || _remote.Echoed - echoed < 100)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the sink counted {_remote.SinkMessages - messages} of {2 * PerSender}, the echo {_remote.Echoed - echoed} of 100");
            Thread.Yield();
        }
        Assert.Equal(2 * PerSender, _remote.SinkMessages - messages);
        Assert.Equal(PerSender * (7L + 14L), _remote.SinkBytes - bytes);
        Assert.Equal(100, _remote.Echoed - echoed);
    }

    [Fact]
    public void HostConnection_Closed_RemoteStopsAndCompletes()
    {
        Assert.False(_remote.Completion.IsCompleted);
        _pair.HostEnd.Dispose();
        Assert.True(_remote.Completion.Wait(Bounded.Limit), "the remote did not notice the host went away");
        Assert.Equal(RpmsgDeviceState.Stopped, _remote.Device.State);
    }

    [Theory]
    [InlineData("", "ERR empty command")]
    [InlineData("bogus", "ERR unknown command")]
    [InlineData("send 12", "ERR unknown command")]
    [InlineData("send zz 00", "ERR FormatException: DST 'zz'")]
    [InlineData("send 0x400 XYZ", "ERR FormatException")]
    [InlineData("destroy nothing-here", "ERR no endpoint named 'nothing-here'")]
    [InlineData("detach", "ERR InvalidOperationException: this remote cannot detach, attach or crash on command (no link)")]
    [InlineData("attach", "ERR InvalidOperationException: this remote cannot detach")]
    [InlineData("crash", "ERR InvalidOperationException: this remote cannot detach")]
    public void Execute_BadCommand_RepliesErrWithTheReason(string line, string expectedStart)
    {
        string reply = new SimulatedRemoteCommands(_remote).Execute(line, out bool quit);
        Assert.StartsWith(expectedStart, reply);
        Assert.False(quit);
    }

    [Fact]
    public void Execute_AnnounceStatsQuit_RepliesOk()
    {
        var commands = new SimulatedRemoteCommands(_remote);
        Assert.Equal("OK 0x2000", commands.Execute("announce cmd-test 0x2000", out _));
        Assert.Equal("OK", commands.Execute("destroy cmd-test", out _));
        Assert.Matches("^OK echoed=0 sink=0 sink-bytes=0 blocked=0 rx=", commands.Execute("stats", out _));
        Assert.Equal("OK", commands.Execute("quit", out bool quit));
        Assert.True(quit);
    }

    [Fact]
    public void SendCommand_BeforeTheRemoteSawTheLinkUp_WaitsForItInsteadOfFailing()
    {
        // A CLI test saw "send" refused with "link not up yet": the host was up, the remote not yet.
        using var pair = new SimulatedRemotePair();
        using var ept = pair.Host.CreateEndpoint();
        var early = Assert.Throws<TimeoutException>(() => pair.Remote.SendFromCommandEndpoint(ept.Address, "x"u8, timeout: TimeSpan.FromMilliseconds(1)));
        Assert.Contains("link did not come up", early.Message);

        var send = Task.Run(() => pair.Remote.SendFromCommandEndpoint(ept.Address, "late"u8, timeout: Bounded.Limit));
        pair.StartHost();
        Assert.True(send.Wait(Bounded.Limit), "send did not complete after link-up");
        byte[] buffer = new byte[ept.MaxPayload];
        var r = ept.Receive(buffer, Bounded.Limit);
        Assert.Equal("late"u8.ToArray(), buffer[..r.Length]);
    }

    public void Dispose() => _pair.Dispose();
}
