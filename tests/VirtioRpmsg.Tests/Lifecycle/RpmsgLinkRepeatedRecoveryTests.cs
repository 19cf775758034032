using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Review (lifecycle, seeds 002/003): a vdev reset repeated 50 times behaves as the first. Each cycle the remote's vdev
/// dies, the host resets it, the remote announces its service again; the waiter gets the one fresh channel (never an
/// old one, never two), it echoes, and the old channel refuses. It counts the process's threads, so it runs in the
/// collection that runs on its own, and leaves the thread pool's out (the pool grows with load; a leaked dispatcher is
/// not a pool thread): once in CI, beside other tests, the process gained 7 threads over the resets.
/// </summary>
[Collection(Platform.DescriptorCountCollection.Name)]
public class RpmsgLinkRepeatedRecoveryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private const int Cycles = 50;

    [Fact]
    public async Task RecoverVdev_FiftyTimes_OneFreshChannelEachTime_OldOnesRefuse()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        using var link = open.Result;
        var previous = new List<RpmsgChannel>();
        int threadsBefore = 0;
        for (int cycle = 0; cycle < Cycles; cycle++)
        {
            var announced = remote.Announce(1, "svc", 0x900);
            var channel = await link.WaitForChannelAsync("svc", 1);
            Assert.Same(link.Devices[1], channel.Device);
            Assert.Single(link.Devices[1].Channels);
            Assert.Equal(0, link.Devices[1].Counters.Errors);
            Assert.Equal(0, link.Devices[1].Counters.NameServiceDuplicates);
            Assert.DoesNotContain(channel, previous);
            await channel.SendAsync(MultiVdevRemote.Payload(0, 1, 0, cycle));
            var reply = new byte[channel.Endpoint.MaxPayload];
            var got = await channel.Endpoint.ReceiveAsync(reply).AsTask().WaitAsync(Bound);
            Assert.Equal(MultiVdevRemote.Payload(0, 1, 0, cycle), reply.AsSpan(0, got.Length).ToArray());
            foreach (var old in previous)
                Assert.Throws<RpmsgDeviceUnavailableException>(() => old.Send([1]));
            previous.Add(channel);
            if (cycle == 5)
                threadsBefore = OwnThreads();

            var device = link.Devices[1];
            remote.Crash(1);
            Assert.True(SpinWait.SpinUntil(() => device.State == RpmsgDeviceState.Broken, Bound), $"cycle {cycle}: vdev 1 is {device.State}");
            var recovery = link.RecoverVdevAsync(1);
            remote.Restart(1);
            Assert.True(recovery.Wait(Bound), $"cycle {cycle}: vdev 1 did not come back");
            GC.KeepAlive(announced);
        }
        int threadsAfter = OwnThreads();
        Assert.True(threadsAfter <= threadsBefore + 4, $"threads grew from {threadsBefore} to {threadsAfter} over {Cycles - 6} vdev resets");
        Assert.Equal(RpmsgDeviceState.Running, link.Devices[0].State);
    }

    // The process's threads besides the thread pool's.
    private static int OwnThreads() => System.Diagnostics.Process.GetCurrentProcess().Threads.Count - ThreadPool.ThreadCount;
}
