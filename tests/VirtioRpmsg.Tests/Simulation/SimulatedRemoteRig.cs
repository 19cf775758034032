using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// A host platform over a real shared-memory file in /dev/shm (OpenAMP layout, table at 0), an
/// in-process simulated remote mapping the same file itself, and a <see cref="RemoteProcessor"/>
/// over both. Dispose tears all of it down and deletes the file.
/// </summary>
internal sealed class SimulatedRemoteRig : RemoteProcessorRig<InProcessSimulatedControl>
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private SimulatedRemoteRig(string path, PlatformResources platform, InProcessSimulatedControl control, RemoteProcessor processor)
        : base(path, platform, control, processor)
    {
    }

    public static PlatformDescription Description(string path)
    {
        var d = PlatformDescription.OpenAmpLinux(PlatformRole.Host);
        return d with
        {
            Regions = [d.Regions[0] with { Path = path }],
            Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Polling },
        };
    }

    public static string NewShmPath() => "/dev/shm/vrpmsg-test-rproc-" + Guid.NewGuid().ToString("N") + ".shm";

    public static SimulatedRemoteRig Create(RemoteProcessorOptions? options = null, InProcessSimulatedOptions? remote = null, string? firmwarePath = null, bool echoDriver = true)
    {
        string path = NewShmPath();
        PlatformResources? platform = null;
        InProcessSimulatedControl? control = null;
        try
        {
            var description = Description(path);
            platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            control = new InProcessSimulatedControl(description, remote);
            options ??= new RemoteProcessorOptions();
            options = options with
            {
                FirmwarePath = firmwarePath ?? options.FirmwarePath,
                DeviceOptions = new RpmsgDeviceOptions { Name = "rproc-host", SendTimeout = Bound },
            };
            var processor = new RemoteProcessor(platform, control, options);
            if (echoDriver)
                processor.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName));
            return new SimulatedRemoteRig(path, platform, control, processor);
        }
        catch
        {
            control?.Dispose();
            platform?.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Automatic recovery in <paramref name="mode"/>, a fast monitor, and a remote that reboots by itself for attach-recovery.</summary>
    public static SimulatedRemoteRig CreateAutoRecovering(RemoteRecoveryMode mode, IReadOnlyList<string>? services = null, bool echoDriver = true) => Create(
        new RemoteProcessorOptions { RecoveryMode = mode, AutoRecover = true, MonitorInterval = TimeSpan.FromMilliseconds(1) },
        new InProcessSimulatedOptions { Services = services ?? [SimulatedRemote.EchoServiceName], RebootAfterCrash = mode == RemoteRecoveryMode.Attach },
        echoDriver: echoDriver);

    /// <summary>Sends <paramref name="value"/> on the current echo channel and checks it comes back.</summary>
    public void EchoRoundTrip(int value, string service = SimulatedRemote.EchoServiceName) => EchoRoundTrip(Processor, value, service);

    /// <summary>Sends <paramref name="value"/> on <paramref name="processor"/>'s current echo channel and checks it comes back.</summary>
    public static void EchoRoundTrip(RemoteProcessor processor, int value, string service = SimulatedRemote.EchoServiceName)
    {
        EchoRoundTrip(processor.WaitForChannel(service, Bound), value);
    }

    /// <summary>Sends <paramref name="value"/> on <paramref name="channel"/> and checks it comes back from the channel's remote address.</summary>
    public static void EchoRoundTrip(RpmsgChannel channel, int value)
    {
        Span<byte> message = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(message, value);
        channel.Send(message);
        var reply = new byte[channel.Endpoint.MaxPayload];
        var result = channel.Endpoint.Receive(reply, Bound);
        Assert.Equal(4, result.Length);
        Assert.Equal(value, BinaryPrimitives.ReadInt32LittleEndian(reply));
        Assert.Equal(channel.RemoteAddress, result.Source);
    }

    /// <summary>The host region (OpenAMP layout: one shm file).</summary>
    public VirtioRpmsg.Memory.SharedMemoryRegion Region => Platform.Regions[0];

    /// <summary>An application thread holding a zero-copy tx buffer (a mapping lease) until <paramref name="release"/>.</summary>
    internal static Thread HoldTxBuffer(RpmsgChannel channel, ManualResetEventSlim release)
    {
        using var held = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            var buffer = channel.Endpoint.GetTxBuffer(Bound);
            held.Set();
            release.Wait();
            buffer.Dispose();
        }) { IsBackground = true };
        holder.Start();
        Assert.True(held.Wait(Bound), "the holder never got a tx buffer");
        return holder;
    }
}
