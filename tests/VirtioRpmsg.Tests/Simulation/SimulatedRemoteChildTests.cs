using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// <see cref="SimulatedRemoteChild"/> as the child of a <see cref="SimulatedRemoteProcess"/> started
/// with the test peer as its command (it hosts the entry point in one line, as any application can), and the
/// entry point's argument parsing.
/// </summary>
public sealed class SimulatedRemoteChildTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static SimulatedRemoteProcess StartPeerRemote(SimulatedServices services = SimulatedServices.Echo) => SimulatedRemoteProcess.StartWithHost(new SimulatedRemoteProcessOptions
    {
        RemoteCommand = RemoteCommands.Peer,
        Services = services,
        SharedMemoryPrefix = "vrpmsg-test-child-",
        HostOptions = new RpmsgDeviceOptions { Name = "host", SendTimeout = Bound },
    });

    [Fact]
    public void Run_HostedByAnotherProgram_EchoesAndExitsCleanlyWhenHostDisposes()
    {
        string shm;
        SimulatedRemoteProcess? exited;
        using (var simulated = StartPeerRemote())
        {
            exited = simulated;
            shm = simulated.SharedMemoryPath;
            var bound = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
            simulated.Host.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName) { Probe = ch => bound.TrySetResult(ch) });
            simulated.Host.Start();
            Assert.True(bound.Task.Wait(Bound), "the echo service was announced");
            var channel = bound.Task.Result;
            Assert.Equal(simulated.RemoteEndpoints["echo"], channel.RemoteAddress);

            channel.Send("ping"u8);
            var reply = new byte[channel.Endpoint.MaxPayload];
            var result = channel.Endpoint.Receive(reply, Bound);

            Assert.Equal("ping"u8.ToArray(), reply.AsSpan(0, result.Length).ToArray());
        }
        Assert.Equal(0, exited.ExitCode);
        Assert.False(File.Exists(shm));
    }

    [Fact]
    public void Run_CommandLine_AnswersTheRemoteCommandProtocol()
    {
        using var simulated = StartPeerRemote(SimulatedServices.Echo | SimulatedServices.Sink);
        simulated.Host.Start();
        Assert.True(simulated.Host.WaitForLinkUp(Bound));

        Assert.True(simulated.RemoteEndpoints.ContainsKey("sink"), string.Join(", ", simulated.RemoteEndpoints.Keys));
        Assert.StartsWith("echoed=0 ", simulated.Command("stats"));
    }

    [Theory]
    [InlineData(new[] { "remote", "--shm", "/dev/shm/x", "--passing" }, "--passing")]
    [InlineData(new[] { "--shm", "/dev/shm/x", "--passing", "p", "--colour", "red" }, "--colour")]
    [InlineData(new[] { "--shm", "/dev/shm/x", "--passing", "p", "--wait", "sometimes" }, "sometimes")]
    [InlineData(new[] { "--shm", "/dev/shm/x", "--passing", "p", "--services", "echo,bogus" }, "bogus")]
    [InlineData(new[] { "--shm" }, "--shm")]
    public void Run_BadArguments_ThrowsNamingTheArgument(string[] arguments, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => SimulatedRemoteChild.Run(arguments, TextReader.Null, TextWriter.Null));

        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void Parse_AllArguments_FillsTheOptions()
    {
        var o = SimulatedRemoteChild.Parse(["remote", "--shm", "/dev/shm/x", "--passing", "p", "--services", "echo,sink", "--echo", "a", "--echo", "b", "--wait", "hybrid", "--no-stdin", "--platform", "b.json"]);

        Assert.Equal(["a", "b"], o.EchoNames);
        IReadOnlyList<string> names = o.EchoNames; // a record compares lists by reference

        Assert.Equal(new SimulatedRemoteChildOptions
        {
            SharedMemoryPath = "/dev/shm/x",
            Passing = "p",
            Services = SimulatedServices.Echo | SimulatedServices.Sink,
            WaitStrategy = RpmsgWaitStrategy.Hybrid,
            ReadCommands = false,
            PlatformFile = "b.json",
            EchoNames = names,
        }, o);
    }

    [Fact]
    public void TryRun_OtherFirstArgument_ReturnsFalseWithoutRunning()
    {
        Assert.False(SimulatedRemoteChild.TryRun(["report", "--quick"], out int code));
        Assert.Equal(0, code);
        Assert.False(SimulatedRemoteChild.TryRun([], out _));
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt, "interrupt")]
    [InlineData(RpmsgWaitStrategy.BusyPoll, "poll")]
    [InlineData(RpmsgWaitStrategy.Hybrid, "hybrid")]
    public void WaitArgument_EachDispatcherStrategy_ParsesBackToItself(RpmsgWaitStrategy strategy, string spelling)
    {
        Assert.Equal(spelling, SimulatedRemoteChild.WaitArgument(strategy));
        Assert.Equal(strategy, SimulatedRemoteChild.ParseWait(spelling));
    }

    [Fact]
    public void WaitArgument_CallerPollOrUnknownSpelling_ThrowsNamingTheValue()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SimulatedRemoteChild.WaitArgument(RpmsgWaitStrategy.CallerPoll));
        var e = Assert.Throws<ArgumentException>(() => SimulatedRemoteChild.ParseWait("busy"));
        Assert.Contains("'busy'", e.Message, StringComparison.Ordinal);
    }
}
