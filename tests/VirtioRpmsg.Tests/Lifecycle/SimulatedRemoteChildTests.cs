using System.Diagnostics;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// <see cref="SimulatedRemoteChild"/> as the child of a <see cref="SimulatedRemoteProcess"/> started
/// through a custom StartInfoFactory (the test peer in mode "simulated-remote"), as a packaged app does
/// without the rpmsg CLI.
/// </summary>
public sealed class SimulatedRemoteChildTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static SimulatedRemoteProcess StartPeerRemote(SimulatedServices services = SimulatedServices.Echo) => SimulatedRemoteProcess.Start(new SimulatedRemoteProcessOptions
    {
        StartInfoFactory = args =>
        {
            var psi = new ProcessStartInfo("dotnet");
            psi.ArgumentList.Add(PeerProcess.PeerAssembly);
            psi.ArgumentList.Add("simulated-remote");
            foreach (var a in args)
                psi.ArgumentList.Add(a);
            return psi;
        },
        Services = services,
        SharedMemoryPrefix = "vrpmsg-test-child-",
        HostOptions = new RpmsgDeviceOptions { Name = "host", SendTimeout = Bound },
    });

    [Fact]
    public void Run_StartedThroughStartInfoFactory_EchoesAndExitsCleanlyWhenHostDisposes()
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
    [InlineData(new[] { "remote", "--shm", "/dev/shm/x" }, "--passing")]
    [InlineData(new[] { "--shm", "/dev/shm/x", "--passing", "p", "--colour", "red" }, "--colour")]
    [InlineData(new[] { "--shm", "/dev/shm/x", "--passing", "p", "--wait", "sometimes" }, "sometimes")]
    [InlineData(new[] { "--shm", "/dev/shm/x", "--passing", "p", "--services", "echo,bogus" }, "bogus")]
    [InlineData(new[] { "--shm" }, "--shm")]
    public void Run_BadArguments_ThrowsNamingTheArgument(string[] arguments, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => SimulatedRemoteChild.Run(arguments, TextReader.Null, TextWriter.Null));

        Assert.Contains(named, e.Message);
    }
}
