using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary><c>rpmsg remote --vhost-user</c>'s engine: the lines a script waits for, per guest, over a real listening socket.</summary>
public sealed class SimulatedVhostUserRemoteTests
{
    [Fact]
    public void Run_TwoGuestsInTurn_PrintsTheirLifecycleAndServesEcho()
    {
        string address = "@vrpmsg-vhost-cli-" + Guid.NewGuid().ToString("N");
        var output = new StringWriter();
        using var cts = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => SimulatedVhostUserRemote.Run(address, new SimulatedRemoteOptions { Services = SimulatedServices.Echo | SimulatedServices.Sink }, null, output, cts.Token),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            for (int guest = 1; guest <= 2; guest++)
            {
                using var frontEnd = new VhostUserTestFrontEnd(address);
                var host = frontEnd.StartHost(frontEnd.SetUpLikeVirtioUml());
                uint echo = frontEnd.WaitForAnnouncement(SimulatedRemote.EchoServiceName);
                frontEnd.WaitForAnnouncement(SimulatedRemote.SinkServiceName);
                using var ept = host.CreateEndpoint();
                ept.SendTo(echo, [1, 2, 3], TimeSpan.FromSeconds(30));
                var buffer = new byte[16];
                var reply = ept.Receive(buffer, TimeSpan.FromSeconds(30));
                Assert.Equal([1, 2, 3], buffer[..reply.Length]);
                frontEnd.CloseConnection();
                int n = guest;
                Assert.True(SpinWait.SpinUntil(() => Text(output).Contains($"GUEST {n} GONE", StringComparison.Ordinal), TimeSpan.FromSeconds(30)), Text(output));
            }
            string text = Text(output);
            Assert.StartsWith("LISTENING " + address, text, StringComparison.Ordinal);
            foreach (string line in new[] { "GUEST 1 CONNECTED", "LINKUP 1", "GUEST 2 CONNECTED", "LINKUP 2", "ENDPOINT echo 0x", "ENDPOINT sink 0x" })
                Assert.Contains(line, text, StringComparison.Ordinal);
            Assert.DoesNotContain("FAULT", text, StringComparison.Ordinal);
        }
        finally
        {
            cts.Cancel();
            Assert.Throws<OperationCanceledException>(() => Bounded.Await(run));
        }
    }

    private static string Text(StringWriter output)
    {
        lock (output)
            return output.ToString();
    }
}
