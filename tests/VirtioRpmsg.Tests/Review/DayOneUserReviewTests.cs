using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.GettingStarted;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (user3, a first-day user): a token already cancelled when a send or receive is called. <c>SendAsync</c>
/// returned a canceled task and sent nothing, but <c>Send</c>/<c>SendTo</c>/<c>SendOffChannel</c> and
/// <c>GetTxBuffer</c> with the same token sent (took) anyway, and <c>Receive</c>/<c>TryReceive</c>/<c>ReceiveAsync</c>
/// returned a queued message, where the library's doorbells, <c>RpmsgStream</c> and <c>RpmsgDuplexPipe</c> (and .NET's
/// SemaphoreSlim, BlockingCollection and Channel) throw for a token cancelled before the call. Now every one of them
/// throws <see cref="OperationCanceledException"/> carrying the token (a canceled task for the async ones), sending
/// nothing and leaving the message queued.
/// </summary>
public sealed class DayOneCancelledTokenReviewTests
{
    private static readonly CancellationToken Cancelled = new(canceled: true);

    [Fact]
    public void SyncSends_TokenAlreadyCancelled_ThrowAndSendNothing_AsSendAsyncDoes()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        int received = 0;
        using var sink = loop.Remote.CreateEndpoint(0x400, (_, _, _) => Interlocked.Increment(ref received));
        using var ept = loop.Host.CreateEndpoint(RpmsgAddress.Any, 0x400);

        var sends = new (string Name, Action Send)[]
        {
            ("Send", () => ept.Send([1], Cancelled)),
            ("Send(timeout)", () => ept.Send([1], TimeSpan.FromSeconds(5), Cancelled)),
            ("SendTo", () => ept.SendTo(0x400, [1], Cancelled)),
            ("SendOffChannel", () => ept.SendOffChannel(ept.Address, 0x400, [1], Cancelled)),
        };
        foreach (var (name, send) in sends)
        {
            var e = Record.Exception(send);
            Assert.True(e is OperationCanceledException, $"{name}: {e?.GetType().Name ?? "no exception (it sent)"}");
            Assert.Equal(Cancelled, ((OperationCanceledException)e!).CancellationToken);
        }
        var async = ept.SendAsync(new byte[] { 1 }, Cancelled);
        Assert.True(async.IsCanceled);

        Assert.Equal(0, loop.Remote.Poll());
        Assert.Equal(0, received);
        Assert.Equal(0, loop.Host.Counters.TxMessages);
    }

    [Fact]
    public void GetTxBuffer_TokenAlreadyCancelled_ThrowsAndTakesNoBuffer()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        using var ept = loop.Host.CreateEndpoint(RpmsgAddress.Any, 0x400);

        var e = Record.Exception(() =>
        {
            var buffer = ept.GetTxBuffer(TimeSpan.FromSeconds(5), Cancelled);
            buffer.Dispose();
        });

        Assert.True(e is OperationCanceledException, e?.GetType().Name ?? "no exception (it took a buffer)");
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
    }

    [Fact]
    public void Receives_TokenAlreadyCancelled_ThrowAndLeaveTheMessageQueued()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        using var ept = loop.Host.CreateEndpoint(0x401);
        using var peer = loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        peer.SendTo(0x401, [7]);
        Assert.Equal(1, loop.Host.Poll());
        var buffer = new byte[ept.MaxPayload];

        Assert.ThrowsAny<OperationCanceledException>(() => ept.Receive(buffer, TimeSpan.FromSeconds(5), Cancelled));
        Assert.ThrowsAny<OperationCanceledException>(() => ept.TryReceive(buffer, TimeSpan.FromSeconds(5), out _, Cancelled));
        Assert.ThrowsAny<OperationCanceledException>(() => ept.TryReceive(buffer, TimeSpan.Zero, out _, Cancelled));
        var async = ept.ReceiveAsync(buffer, Cancelled);
        Assert.True(async.IsCanceled, $"ReceiveAsync: completed {async.IsCompleted}, canceled {async.IsCanceled}");

        Assert.True(ept.TryReceive(buffer, TimeSpan.Zero, out var r));
        Assert.Equal(1, r.Length);
        Assert.Equal(7, buffer[0]);
    }
}

/// <summary>
/// Review (user3): a bad service name is an <see cref="ArgumentException"/> whose <c>ParamName</c> is the parameter of
/// the method called (<c>serviceName</c>), not <c>name</c> (the helper's); and <see cref="RemoteProcessor.WaitForChannel(string, TimeSpan, CancellationToken)"/>
/// refuses one at once, as <c>RpmsgLink.WaitForChannelAsync</c> does, instead of waiting out its timeout for a name no
/// announcement can carry.
/// </summary>
public sealed class DayOneServiceNameReviewTests
{
    public static TheoryData<string?> BadNames => new() { null, "", new string('n', 32), "a\0b" };

    [Theory]
    [MemberData(nameof(BadNames))]
    public void CreateNamedEndpoint_AndDriver_BadName_NameTheServiceNameParameter(string? name)
    {
        using var loop = RpmsgLoopback.Create();

        var create = Assert.ThrowsAny<ArgumentException>(() => loop.Host.CreateNamedEndpoint(name!, RpmsgAddress.Any, null));
        var driver = Assert.ThrowsAny<ArgumentException>(() => new RpmsgServiceDriver(name!));

        Assert.Equal("serviceName", create.ParamName);
        Assert.Equal("serviceName", driver.ParamName);
        Assert.DoesNotContain(loop.Host.Endpoints, e => e.Name is not null);
    }

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task RpmsgLinkWaitForChannel_BadName_NamesTheServiceNameParameter(string? name)
    {
        using var board = new SimulatedBoard();
        await using var link = await RpmsgLink.OpenAsync(board.BoardFile);

        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => link.WaitForChannelAsync(name!));

        Assert.Equal("serviceName", e.ParamName);
    }

    [Theory]
    [MemberData(nameof(BadNames))]
    public void RemoteProcessorWaitForChannel_BadName_IsRefusedAtOnce(string? name)
    {
        using var rig = SimulatedRemoteRig.Create();

        var e = Record.Exception(() => rig.Processor.WaitForChannel(name!, TimeSpan.FromMilliseconds(50)));

        var argument = Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Equal("serviceName", argument.ParamName);
    }
}

/// <summary>
/// Review (user3): docs/getting-started.md promises that a service never announced in time gives a
/// <see cref="TimeoutException"/> "naming the service and what the remote did announce". It listed only the channels
/// bound on the link (the services the application itself waited for), so a misspelt name said "no service is bound on
/// this link" while the remote had announced the right one: now the message lists the names the remote announced.
/// </summary>
public sealed class DayOneWaitForChannelTimeoutReviewTests
{
    [Fact]
    public async Task WaitForChannelAsync_MisspeltService_TimeoutNamesWhatTheRemoteAnnounced()
    {
        using var board = new SimulatedBoard();
        await using var link = await RpmsgLink.OpenAsync(board.BoardFile, new RpmsgLinkOptions { Timeout = TimeSpan.FromMilliseconds(300) });
        // The remote announces at link-up; the host has seen the announcement once it is listed as not yet bound.
        Assert.True(SpinWait.SpinUntil(() => link.Device.UnboundServiceCount > 0, TimeSpan.FromSeconds(30)));

        var e = await Assert.ThrowsAsync<TimeoutException>(() => link.WaitForChannelAsync("rpmsg-ecoh"));

        Assert.Contains("'rpmsg-ecoh'", e.Message);
        Assert.Contains(SimulatedRemote.EchoServiceName, e.Message);
    }
}

/// <summary>
/// Review (user3): a negative timeout other than <see cref="Timeout.InfiniteTimeSpan"/> given to a send, a receive or
/// <c>GetTxBuffer</c> was taken as "do not wait" (a receive then threw "no message within -5 ms"), while
/// <see cref="RpmsgDeviceOptions.SendTimeout"/>, the doorbells' <c>Wait</c> and <c>Unmap</c> refuse one: a timeout that
/// a caller's arithmetic made negative hid its bug. Now <see cref="ArgumentOutOfRangeException"/> naming <c>timeout</c>,
/// before anything is sent, taken or waited for.
/// </summary>
public sealed class DayOneNegativeTimeoutReviewTests
{
    private static readonly TimeSpan Negative = TimeSpan.FromMilliseconds(-5);

    [Fact]
    public void SendReceiveAndGetTxBuffer_NegativeTimeout_ThrowNamingTimeout_AndNothingIsSentOrTaken()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        using var ept = loop.Host.CreateEndpoint(0x401, 0x400);
        using var peer = loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        peer.SendTo(0x401, [7]);
        Assert.Equal(1, loop.Host.Poll());
        var buffer = new byte[ept.MaxPayload];

        var calls = new (string Name, Action Call)[]
        {
            ("Send", () => ept.Send([1], Negative)),
            ("SendTo", () => ept.SendTo(0x400, [1], Negative)),
            ("SendOffChannel", () => ept.SendOffChannel(0x401, 0x400, [1], Negative)),
            ("GetTxBuffer", () => ept.GetTxBuffer(Negative).Dispose()),
            ("Receive", () => ept.Receive(buffer, Negative)),
            ("TryReceive", () => ept.TryReceive(buffer, Negative, out _)),
        };
        foreach (var (name, call) in calls)
        {
            var e = Record.Exception(call);
            Assert.True(e is ArgumentOutOfRangeException, $"{name}: {e?.GetType().Name ?? "no exception"}: {e?.Message}");
            Assert.Equal("timeout", ((ArgumentOutOfRangeException)e!).ParamName);
        }

        Assert.Equal(0, loop.Remote.Poll());
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
        Assert.True(ept.TryReceive(buffer, TimeSpan.Zero, out var r)); // still queued
        Assert.Equal(1, r.Length);
    }

    [Fact]
    public void RemoteProcessorWaitForChannel_NegativeTimeout_ThrowsNamingTimeout()
    {
        using var rig = SimulatedRemoteRig.Create();

        var e = Record.Exception(() => rig.Processor.WaitForChannel(SimulatedRemote.EchoServiceName, Negative));

        var argument = Assert.IsType<ArgumentOutOfRangeException>(e);
        Assert.Equal("timeout", argument.ParamName);
    }
}
