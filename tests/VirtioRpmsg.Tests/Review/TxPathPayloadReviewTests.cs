using System.Diagnostics;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (txpath): a payload larger than one buffer carries is refused at once with
/// <see cref="RpmsgPayloadTooLargeException"/>, whatever the send would otherwise wait for: the remote address, or a
/// tx buffer a callback sender has the turn for. Before, such a send waited its whole timeout and then threw
/// <see cref="TimeoutException"/> (or, as a try, returned false as if it might succeed later).
/// </summary>
public class TxPathPayloadReviewTests
{
    // The sends' timeout: a refusal "at once" is one before it, a wait for it ends in a TimeoutException instead. Long, so
    // that a thread descheduled on a loaded machine is not taken for a send that waited.
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public void Send_OversizePayloadWithRemoteAddressUnknown_ThrowsPayloadTooLargeAtOnce()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint();
        var payload = new byte[loop.Host.MaxPayload + 1];
        var clock = Stopwatch.StartNew();
        var ex = Record.Exception(() => ept.Send(payload, Wait));
        var tooLarge = ex as RpmsgPayloadTooLargeException;
        Assert.True(tooLarge is not null, $"got {ex?.GetType().Name}: {ex?.Message} after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(payload.Length, tooLarge!.PayloadLength);
        Assert.True(clock.Elapsed < Wait, $"refused only after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task SendAsync_OversizePayloadWithRemoteAddressUnknown_FaultsWithPayloadTooLargeAtOnce()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.SendTimeout = Wait);
        var ept = loop.Host.CreateEndpoint();
        var payload = new byte[loop.Host.MaxPayload + 1];
        var clock = Stopwatch.StartNew();
        var ex = await Record.ExceptionAsync(() => ept.SendAsync(payload).AsTask());
        Assert.True(ex is RpmsgPayloadTooLargeException, $"got {ex?.GetType().Name}: {ex?.Message} after {clock.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed < Wait, $"refused only after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void TrySend_OversizePayloadWithRemoteAddressUnknown_Throws()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint();
        Assert.Throws<RpmsgPayloadTooLargeException>(() => ept.TrySend(new byte[loop.Host.MaxPayload + 1]));
    }

    [Fact]
    public void Send_MaxAndEmptyPayloadWithRemoteAddressKnownLater_AreSent()
    {
        using var loop = RpmsgLoopback.Create();
        var sink = loop.Remote.CreateEndpoint();
        var ept = loop.Host.CreateEndpoint(RpmsgAddress.Any, sink.Address);
        ept.Send(new byte[loop.Host.MaxPayload], Wait);
        ept.Send(ReadOnlySpan<byte>.Empty, Wait);
        var first = sink.Receive(new byte[loop.Host.MaxPayload], TimeSpan.FromSeconds(30));
        Assert.Equal(loop.Host.MaxPayload, first.Length);
        var second = sink.Receive(new byte[1], TimeSpan.FromSeconds(30));
        Assert.Equal(0, second.Length);
    }

    // A callback sender waiting for a tx buffer has the turn: an application sender does not try while it waits, so its
    // first try never looked at the payload, and it waited out its timeout for a buffer it could never use.
    [Fact]
    public void Send_OversizePayloadWhileACallbackSenderWaits_ThrowsPayloadTooLargeAtOnce()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var remote = loop.Remote.CreateEndpoint();
        var replying = loop.Host.CreateEndpoint(RpmsgAddress.Any, (ept, source, _) => ept.SendTo(source, [1]));
        while (loop.Host.Tx.TrySend(0x500, remote.Address, [0]))
        {
        }
        long before = loop.Host.Counters.TxBufferWaits;
        Assert.True(remote.TrySendTo(replying.Address, [2]));
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before); // the callback's reply waits, with the turn
        var payload = new byte[loop.Host.MaxPayload + 1];
        var clock = Stopwatch.StartNew();
        var ex = Record.Exception(() => loop.Host.Tx.Send(0x500, remote.Address, payload, Wait, CancellationToken.None));
        Assert.True(ex is RpmsgPayloadTooLargeException, $"got {ex?.GetType().Name}: {ex?.Message} after {clock.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed < Wait, $"refused only after {clock.ElapsedMilliseconds} ms");
    }
}
