using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A steady exchange (one size, the peer returning buffers in order) puts the k-th message in the same buffer,
/// descriptor, avail slot and used slot as the (k - num)-th on both rings: the host's tx buffers and each vring's
/// descriptors are handed out first in, first out. So after the first lap neither side rewrites a descriptor, an avail
/// entry or a used element (DriverRingShadow, DeviceRingShadow): per message only the buffer and the two indices move.
/// </summary>
public class RpmsgSteadyRingReuseTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private const int Lap = 256; // the loopback's vring size and tx buffer count

    [Fact]
    public void OneSizeEchoes_AfterTheFirstLap_NoDescriptorAvailEntryOrUsedElementIsRewritten()
    {
        using var loop = RpmsgLoopback.Create();
        var channel = RpmsgEchoTests.BindEcho(loop);
        var host = (DriverRoleTransport)loop.Host.Transport!;
        var remote = (DeviceRoleTransport)loop.Remote.Transport!;
        var payload = new byte[64];
        var reply = new byte[loop.Host.MaxPayload];

        void Echo(int i)
        {
            payload.AsSpan().Fill((byte)i);
            channel.Send(payload);
            var result = channel.Endpoint.Receive(reply, Bound);
            Assert.Equal(64, result.Length);
            Assert.True(reply.AsSpan(0, 64).SequenceEqual(payload), $"echo {i} came back changed");
        }

        // More than a lap first, so every slot and descriptor has been written once at this size.
        for (int i = 0; i < Lap + 44; i++)
            Echo(i);
        long hostTx = host.RingWritesSkipped(1), hostRx = host.RingWritesSkipped(0);
        long remoteTx = remote.UsedWritesSkipped(0), remoteRx = remote.UsedWritesSkipped(1);
        for (int i = 0; i < Lap; i++)
            Echo(i);

        // Per echo: the request's descriptor and avail entry, the re-posted rx buffer's descriptor and avail entry,
        // and the used element on each ring.
        Assert.Equal(2 * Lap, host.RingWritesSkipped(1) - hostTx);
        Assert.Equal(2 * Lap, host.RingWritesSkipped(0) - hostRx);
        Assert.Equal(Lap, remote.UsedWritesSkipped(1) - remoteRx);
        Assert.Equal(Lap, remote.UsedWritesSkipped(0) - remoteTx);
    }

    [Fact]
    public void AZeroCopyBufferHeldAcrossLaps_TheFreeQueueWrapsAndEveryMessageArrives()
    {
        using var loop = RpmsgLoopback.Create();
        var channel = RpmsgEchoTests.BindEcho(loop);
        var payload = new byte[64];
        var reply = new byte[loop.Host.MaxPayload];
        var transport = (DriverRoleTransport)loop.Host.Transport!;
        // Taken (as a zero-copy send takes it) and held while three laps of copies go round: the free queue's reclaim
        // then starts mid-array and wraps.
        Assert.True(transport.TryAcquireTx(out var held));
        for (int i = 0; i < 3 * Lap + 7; i++)
        {
            payload.AsSpan().Fill((byte)i);
            channel.Send(payload);
            var result = channel.Endpoint.Receive(reply, Bound);
            Assert.True(reply.AsSpan(0, result.Length).SequenceEqual(payload), $"echo {i} came back changed");
        }
        var tail = new byte[32];
        tail.AsSpan().Fill(0xA5);
        held.Fill(channel.Endpoint.Address, channel.RemoteAddress, tail);
        transport.SubmitTx(held.Id, RpmsgHeader.Size + tail.Length);
        var last = channel.Endpoint.Receive(reply, Bound);
        Assert.Equal(32, last.Length);
        Assert.True(reply.AsSpan(0, 32).IndexOfAnyExcept((byte)0xA5) < 0, "the held buffer's message came back changed");
        // Every tx buffer comes back (taken and cancelled again, each to the front of the queue), and no more.
        loop.WaitUntil(() => Takeable(transport) == Lap, "every tx buffer back in the free queue");
        Assert.Equal(Lap, Takeable(transport));
    }

    [Fact]
    public void CancelTx_OfAnIdThatIsNotATxBufferOrIsAlreadyFree_ThrowsAndLosesNothing()
    {
        using var loop = RpmsgLoopback.Create();
        var transport = (DriverRoleTransport)loop.Host.Transport!;
        loop.WaitUntil(() => Takeable(transport) == Lap, "every tx buffer free");
        var notTx = Assert.Throws<ArgumentOutOfRangeException>(() => transport.CancelTx(3)); // an rx buffer's id
        Assert.Equal("id", notTx.ParamName);
        var twice = Assert.Throws<InvalidOperationException>(() => transport.CancelTx(Lap + 5));
        Assert.Contains("cancelled twice", twice.Message, StringComparison.Ordinal);
        Assert.Equal(Lap, Takeable(transport)); // still every buffer once, none twice
    }

    private static int Takeable(DriverRoleTransport transport)
    {
        var taken = new List<int>();
        try
        {
            while (taken.Count <= Lap && transport.TryAcquireTx(out var buffer))
                taken.Add(buffer.Id);
            Assert.Equal(taken.Count, taken.Distinct().Count());
            return taken.Count;
        }
        finally
        {
            foreach (int id in taken)
                transport.CancelTx(id);
        }
    }
}
