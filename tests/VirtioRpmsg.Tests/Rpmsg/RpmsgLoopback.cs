using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Both rpmsg roles in one process over one guarded anonymous region laid out like OpenAMP's
/// Linux-userspace machine (vrings at 0x4000/0x8000, pool at 0x10000), with a loopback doorbell.
/// A fake vdev entry at 0x100 holds dfeatures/gfeatures/status.
/// </summary>
internal sealed class RpmsgLoopback : IDisposable
{
    internal const long VdevEntryOffset = 0x100;

    public SharedMemoryRegion Region { get; }
    public RpmsgDevice Host { get; }
    public RpmsgDevice Remote { get; }
    public LoopbackDoorbell HostDoorbell { get; }
    public LoopbackDoorbell RemoteDoorbell { get; }

    /// <summary>The host's doorbell as the host device uses it (a <see cref="HookedDoorbell"/> when created with hooks).</summary>
    public IDoorbell HostBell { get; private init; } = null!;

    /// <summary>The remote's doorbell as the remote device uses it.</summary>
    public IDoorbell RemoteBell { get; private init; } = null!;

    private RpmsgLoopback(SharedMemoryRegion region, RpmsgDevice host, RpmsgDevice remote, LoopbackDoorbell hostBell, LoopbackDoorbell remoteBell)
    {
        Region = region;
        Host = host;
        Remote = remote;
        HostDoorbell = hostBell;
        RemoteDoorbell = remoteBell;
    }

    public static RpmsgLoopback Create(
        Action<RpmsgDeviceOptions>? host = null,
        Action<RpmsgDeviceOptions>? remote = null,
        int hostBufferSize = 512,
        int remoteBufferSize = 512,
        int vringNum = 256,
        uint deviceFeatures = RpmsgFeatures.NameService | VirtioFeatures.EventIndex,
        bool start = true,
        bool hookedDoorbells = false,
        Func<IVdevControl, IVdevControl>? remoteControl = null,
        Func<IVdevControl, IVdevControl>? hostControl = null,
        SharedMemoryType? memoryType = null,
        BarrierDomain barriers = BarrierDomain.InnerShareable,
        Func<IDoorbell, IDoorbell>? hostDoorbell = null,
        Func<IDoorbell, IDoorbell>? remoteDoorbell = null,
        RpmsgPeerConventions conventions = RpmsgPeerConventions.Virtio)
    {
        var region = SharedMemoryRegion.CreateAnonymous(0x80000, deviceAddress: 0, guardPages: true, name: "rpmsg-loopback", memoryType, barriers);
        var map = new AddressMap().Add(region);
        using (var lease = region.Acquire())
            lease.WriteUInt32(VdevEntryOffset + VdevEntry.DeviceFeaturesOffset, deviceFeatures);
        var control = SharedVdevControl.ForVdevEntry(region.Bind(), VdevEntryOffset);
        var (hostBell, remoteBell) = LoopbackDoorbell.CreatePair();
        var hostOptions = new RpmsgDeviceOptions { Name = "host", SendTimeout = TimeSpan.FromSeconds(30) };
        var remoteOptions = new RpmsgDeviceOptions { Name = "remote", SendTimeout = TimeSpan.FromSeconds(30) };
        host?.Invoke(hostOptions);
        remote?.Invoke(remoteOptions);
        int count = Math.Min(512, 2 * vringNum);
        var hostLayout = RpmsgVdevLayout.OpenAmpLinux(map) with { BufferSize = hostBufferSize, VringNum = vringNum, BufferCount = count, Conventions = conventions };
        var remoteLayout = hostLayout with { BufferSize = remoteBufferSize };
        IDoorbell hostUses = hookedDoorbells ? new HookedDoorbell(hostBell) : hostBell;
        hostUses = hostDoorbell?.Invoke(hostUses) ?? hostUses;
        IDoorbell remoteUses = hookedDoorbells ? new HookedDoorbell(remoteBell) : remoteBell;
        remoteUses = remoteDoorbell?.Invoke(remoteUses) ?? remoteUses;
        var remoteDevice = RpmsgDevice.CreateRemote(remoteLayout, remoteControl?.Invoke(control) ?? control, remoteUses, remoteOptions);
        var hostDevice = RpmsgDevice.CreateHost(hostLayout, hostControl?.Invoke(control) ?? control, hostUses, hostOptions);
        var loop = new RpmsgLoopback(region, hostDevice, remoteDevice, hostBell, remoteBell) { HostBell = hostUses, RemoteBell = remoteUses };
        if (start)
            loop.Start();
        return loop;
    }

    /// <summary>Both roles caller-polled: nothing moves until the test polls, so which thread handles a message is certain.</summary>
    public static RpmsgLoopback BothCallerPoll() => Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    public void Start()
    {
        Remote.Start();
        Host.Start();
        if (Remote.Options.WaitStrategy != RpmsgWaitStrategy.CallerPoll)
            Assert.True(Remote.WaitForLinkUp(TimeSpan.FromSeconds(30)), "remote link did not come up");
        else
            Remote.Poll();
    }

    /// <summary>Polls <paramref name="condition"/> (driving CallerPoll devices) until true or the bound passes.</summary>
    public void WaitUntil(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        var spin = new SpinWait();
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"timed out waiting for: {what}\nhost: {Host.Dump()}\nremote: {Remote.Dump()}");
            PollCallerPollDevices();
            spin.SpinOnce(sleep1Threshold: 10);
        }
    }

    /// <summary>
    /// A spinning reader's poll of <paramref name="device"/>'s rx ring (a <see cref="RpmsgDirectReceive"/> for
    /// <paramref name="reader"/>'s queue), on a thread of its own that first runs <paramref name="onThread"/>; the task's
    /// result is the number of messages the poll handled.
    /// </summary>
    internal static Task<int> StartReaderPoll(RpmsgDevice device, RpmsgEndpoint reader, Action? onThread = null) =>
        Task.Factory.StartNew(() =>
        {
            onThread?.Invoke();
            var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, new byte[8]);
            return device.Rx.Poll(ref direct);
        }, TaskCreationOptions.LongRunning);

    /// <summary>
    /// Waits until <paramref name="count"/> more senders than <paramref name="before"/> have entered the
    /// blocking slow path of <paramref name="device"/>, so a test releases them only once they really wait.
    /// </summary>
    public static void WaitForBlockedSenders(RpmsgDevice device, long before, int count = 1)
    {
        if (!SpinWait.SpinUntil(() => device.Counters.TxBufferWaits >= before + count, TimeSpan.FromSeconds(30)))
            throw new TimeoutException($"{count} sender(s) did not block on '{device.Name}'");
    }

    public void PollCallerPollDevices()
    {
        if (Host.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll && Host.State == RpmsgDeviceState.Running)
            Host.Poll();
        if (Remote.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll && Remote.State is RpmsgDeviceState.Running or RpmsgDeviceState.Starting)
            Remote.Poll();
    }

    public void Dispose()
    {
        Host.Dispose();
        Remote.Dispose();
        HostDoorbell.Dispose();
        RemoteDoorbell.Dispose();
        Region.Dispose();
    }
}
