using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// While a queue reader spins polling the rx ring (<see cref="RpmsgReaderSpin"/>), the dispatcher thread sleeps
/// without asking the peer to kick, yet nothing waits for its idle re-check: a message with the ring free is
/// taken over, and a reader whose spin ran out is woken by the next message. The idle re-check is set far
/// beyond the bounds, so a hand-off that relied on it would fail the test instead of passing late.
/// </summary>
public sealed class RpmsgReaderSpinTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan NoRecheck = TimeSpan.FromMinutes(10);

    [Fact]
    public void ReaderPolling_PeerSendsMessages_IsNotAskedToKickForThem()
    {
        const int Messages = 200;
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = RpmsgWaitStrategy.Hybrid;
            o.HybridSpin = TimeSpan.FromMinutes(1); // the reader spins for the whole test
        });
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var owner = loop.Host.Rx.Owner;
        int received = 0;
        var reader = Task.Factory.StartNew(() =>
        {
            var buffer = new byte[8];
            for (int i = 0; i < Messages; i++)
            {
                queue.Receive(buffer, Bound);
                Volatile.Write(ref received, i + 1);
            }
        }, TaskCreationOptions.LongRunning);
        long kicksBefore = loop.RemoteDoorbell.RingCount;

        for (int i = 0; i < Messages; i++)
        {
            loop.WaitUntil(() => owner.HasHelpers || reader.IsCompleted, "the reader polls the ring");
            sender.SendTo(0x500, [(byte)i]);
            loop.WaitUntil(() => Volatile.Read(ref received) > i || reader.IsCompleted, $"message {i} received");
        }

        Assert.True(reader.Wait(Bound));
        long kicks = loop.RemoteDoorbell.RingCount - kicksBefore;
        // One kick per message when the dispatcher sleeps with notifications on; a rare race may let one through.
        Assert.True(kicks < Messages / 4, $"the remote kicked the host {kicks} times for {Messages} messages a polling reader took");
    }

    [Fact]
    public void ReaderStalledInItsSpin_MessageForAnotherEndpoint_IsStillDeliveredByTheDispatcher()
    {
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = RpmsgWaitStrategy.Hybrid;
            o.IdleRecheckInterval = NoRecheck;
        });
        var delivered = new TaskCompletionSource<byte>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Host.CreateEndpoint(0x502, (_, _, payload) => delivered.TrySetResult(payload[0]));
        var sender = loop.Remote.CreateEndpoint(0x501);
        var owner = loop.Host.Rx.Owner;
        owner.HelperIn(); // a reader counted as polling that never polls (descheduled, say)
        try
        {
            sender.SendTo(0x502, [42]);
            Assert.True(delivered.Task.Wait(Bound), "the dispatcher left a message in the ring to a reader that did not poll");
            Assert.Equal(42, delivered.Task.Result);
        }
        finally
        {
            owner.HelperOut();
        }
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    public async Task ReaderSpinRanOut_NextMessage_WakesTheParkedReader(RpmsgWaitStrategy wait)
    {
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = wait;
            o.HybridSpin = TimeSpan.FromMilliseconds(1);
            o.BusyPollIdleTimeout = TimeSpan.FromMilliseconds(1);
            o.IdleRecheckInterval = NoRecheck;
        });
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var buffer = new byte[8];
        for (int round = 0; round < 20; round++)
        {
            // Spins (polling) for its budget inside the call, then parks: the spin ran out before the message.
            var pending = queue.ReceiveAsync(buffer);
            Assert.False(pending.IsCompleted, "a message arrived with nothing sent");
            Assert.False(loop.Host.Rx.Owner.HasHelpers);

            sender.SendTo(0x500, [(byte)round, 1, 2]);

            var result = await pending.AsTask().WaitAsync(Bound);
            Assert.Equal(3, result.Length);
            Assert.Equal((byte)round, buffer[0]);
        }
    }
}
