using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Callbacks that send more than the link holds, against a peer whose callbacks send too (an echo): the
/// dispatcher blocked in a send parks what arrives, and a parked backlog bounded by the buffer count let both
/// dispatchers wait on each other until the send timeout (the third CI failure of
/// Send_EightThreadsWhileCallbackAlsoSends; here it happens on every run).
/// </summary>
public class RpmsgCallbackBurstTests
{
    private const int VringNum = 16; // 16 buffers each way; each dispatcher parks 32 messages in its fixed slots

    [Theory]
    [InlineData(200, RpmsgWaitStrategy.Interrupt)]
    [InlineData(2_000, RpmsgWaitStrategy.Interrupt)]
    [InlineData(2_000, RpmsgWaitStrategy.Hybrid)]
    [InlineData(2_000, RpmsgWaitStrategy.BusyPoll)]
    public void Send_CallbackBurstBeyondBothBacklogsToAnEchoPeer_EveryEchoArrivesInOrder(int burst, RpmsgWaitStrategy wait)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => (o.SendTimeout, o.WaitStrategy) = (TimeSpan.FromSeconds(20), wait),
            remote: o => (o.SendTimeout, o.WaitStrategy) = (TimeSpan.FromSeconds(20), wait),
            vringNum: VringNum);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.SendTo(src, payload));
        var echoes = new List<int>();
        bool burstSent = false;
        loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
        {
            if (payload[0] == 1)
            {
                for (int i = 0; i < burst; i++)
                    ept.SendTo(0x400, [0, (byte)i, (byte)(i >> 8)]);
                Volatile.Write(ref burstSent, true);
                return;
            }
            lock (echoes)
                echoes.Add(payload[1] | payload[2] << 8);
        });
        loop.Remote.CreateEndpoint(0x401).SendTo(0x500, [1]); // runs the burst on the host's dispatcher
        loop.WaitUntil(() => Volatile.Read(ref burstSent) && echoes.Count == burst, "every echo of the burst", seconds: 60);
        Assert.Equal(0, loop.Host.Counters.CallbackErrors);
        Assert.Equal(0, loop.Remote.Counters.CallbackErrors);
        lock (echoes)
            Assert.Equal(Enumerable.Range(0, burst), echoes);
        Assert.Equal(0, loop.Host.Counters.Dropped);
    }
}
