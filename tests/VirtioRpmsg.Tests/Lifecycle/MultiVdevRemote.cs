using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A simulated remote with two rpmsg vdevs over its own shared-memory file, each vdev its own eventfd
/// doorbell (passed over its own abstract socket) and <see cref="Endpoints"/> echo endpoints at
/// 0x400 + k. Every message carries (remote, vdev, endpoint); an echo endpoint that receives one meant
/// for another place records cross-talk instead of answering. <see cref="Crash"/> kills one vdev
/// (NEEDS_RESET, its device gone); <see cref="Restart"/> brings it back once the host reset it.
/// </summary>
internal sealed class MultiVdevRemote : IDisposable
{
    internal const int Endpoints = 128;
    internal const uint FirstAddress = 0x400;
    internal const int PayloadSize = 12;

    private readonly PlatformResources _platform;
    private readonly IDoorbell?[] _doorbells = new IDoorbell?[2];
    private readonly RpmsgDevice?[] _devices = new RpmsgDevice?[2];
    private readonly Task _doorbellsReady;
    private readonly List<string> _crossTalk = [];

    private MultiVdevRemote(int id, string shmPath, PlatformDescription host, PlatformResources platform)
    {
        Id = id;
        ShmPath = shmPath;
        HostDescription = host;
        _platform = platform;
        platform.WriteResourceTable();
        // The host accepts each vdev's doorbell socket in turn while it opens; connect meanwhile. On a thread of its own:
        // a pool task could start late while the test run starts many tests at once, and the host's open gives up.
        _doorbellsReady = Task.Factory.StartNew(() =>
        {
            for (int v = 0; v < 2; v++)
                _doorbells[v] = platform.CreateDoorbell(v, new PlatformDoorbellOptions { Timeout = TimeSpan.FromSeconds(30) });
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public int Id { get; }
    public string ShmPath { get; }
    public PlatformDescription HostDescription { get; }

    public IReadOnlyList<string> CrossTalk
    {
        get
        {
            lock (_crossTalk)
                return _crossTalk.ToArray();
        }
    }

    /// <summary>Creates the shared file and the remote (table written); the host opens <see cref="HostDescription"/>, then call <see cref="StartAll"/>.</summary>
    public static MultiVdevRemote Create(int id)
    {
        string path = PlatformTestJson.ShmPath();
        var remote = RemoteDescription(path, new DoorbellDescription { Kind = PlatformDoorbellKind.Eventfd, Socket = $"vrpmsg-mv-{Guid.NewGuid():N}-0" },
            new DoorbellDescription { Kind = PlatformDoorbellKind.Eventfd, Socket = $"vrpmsg-mv-{Guid.NewGuid():N}-1" });
        var platform = PlatformResources.Open(remote);
        try
        {
            return new MultiVdevRemote(id, path, remote with { Role = PlatformRole.Host }, platform);
        }
        catch
        {
            platform.Dispose();
            PlatformTestJson.Delete(path);
            throw;
        }
    }

    /// <summary>The remote's description: one 512 KiB shm file at <paramref name="path"/> (the remote creates it), table at 0, two vdevs with the given doorbells.</summary>
    internal static PlatformDescription RemoteDescription(string path, DoorbellDescription doorbell0, DoorbellDescription doorbell1)
    {
        var vdevs = new[]
        {
            new PlatformVdevDescription
            {
                Vdev = new VdevLayoutDescription { Vring0Address = 0x4000, Vring1Address = 0x8000, VringNum = 256, VringAlign = 4096, BufferPoolAddress = 0x10000, BufferCount = 512, BufferSize = 512, Features = RpmsgFeatures.NameService | VirtioFeatures.EventIndex },
                Doorbell = doorbell0,
            },
            new PlatformVdevDescription
            {
                Vdev = new VdevLayoutDescription { Vring0Address = 0x50000, Vring1Address = 0x54000, VringNum = 256, VringAlign = 4096, BufferPoolAddress = 0x58000, BufferCount = 512, BufferSize = 256, Features = RpmsgFeatures.NameService },
                Doorbell = doorbell1,
            },
        };
        return new PlatformDescription
        {
            Role = PlatformRole.Remote,
            Regions = [new RegionDescription { Name = "shm", Kind = PlatformRegionKind.ShmFile, Path = path, Create = true, DeviceAddress = 0, Size = 0x80000 }],
            ResourceTable = new ResourceTableLocation { Region = "shm", Offset = 0 },
            Vdev = vdevs[0].Vdev,
            Doorbell = vdevs[0].Doorbell,
            AdditionalVdevs = [vdevs[1]],
            WaitStrategy = PlatformWaitStrategy.Interrupt,
        };
    }

    /// <summary>Once the host accepted the doorbells: a device per vdev, started (each waits for the host's DRIVER_OK).</summary>
    public void StartAll()
    {
        Assert.True(_doorbellsReady.Wait(TimeSpan.FromSeconds(60)), "the remote's doorbells were not connected");
        _doorbellsReady.GetAwaiter().GetResult();
        for (int v = 0; v < 2; v++)
            StartVdev(v);
    }

    /// <summary>The vdev dies: its device vanishes without a word, and NEEDS_RESET is set in its status byte (a doorbell tells the host).</summary>
    public void Crash(int vdev)
    {
        _devices[vdev]!.Dispose();
        _devices[vdev] = null;
        var control = _platform.CreateVdevControl(vdev);
        control.Status |= VirtioStatus.NeedsReset;
        _doorbells[vdev]!.Ring();
    }

    /// <summary>After the host reset the vdev (status no longer NEEDS_RESET): a fresh device with fresh endpoints, as firmware re-initialising one vdev.</summary>
    public void Restart(int vdev)
    {
        var control = _platform.CreateVdevControl(vdev);
        Assert.True(SpinWait.SpinUntil(() => (control.Status & VirtioStatus.NeedsReset) == 0, TimeSpan.FromSeconds(30)), $"remote {Id}: the host never reset vdev {vdev}");
        StartVdev(vdev);
    }

    /// <summary>Announces <paramref name="name"/> at <paramref name="address"/> on one vdev (an echo endpoint).</summary>
    public RpmsgEndpoint Announce(int vdev, string name, uint address) =>
        _devices[vdev]!.CreateNamedEndpoint(name, address, (ept, source, payload) => ept.TrySendTo(source, payload));

    /// <summary>Sends name-service creates for <paramref name="count"/> distinct names on one vdev, as a remote announcing without end.</summary>
    public void FloodAnnouncements(int vdev, int count)
    {
        // The host's link can be open before this side has seen its DRIVER_OK: sending needs this side's link up.
        var device = _devices[vdev]!;
        Assert.True(SpinWait.SpinUntil(() => device.State == RpmsgDeviceState.Running, TimeSpan.FromSeconds(30)),
            $"remote {Id}: vdev {vdev} never came up ({device.State})");
        using var sender = device.CreateEndpoint(0x7000);
        var message = new byte[NameServiceMessage.Size];
        for (int i = 0; i < count; i++)
        {
            new NameServiceMessage($"flood-{i}", 0x8000u + (uint)i, NameServiceFlags.Create).Write(message);
            sender.SendTo(RpmsgAddress.NameService, message);
        }
    }

    public static byte[] Payload(int remote, int vdev, int endpoint, int seq)
    {
        var p = new byte[PayloadSize];
        BinaryPrimitives.WriteInt16LittleEndian(p, (short)remote);
        BinaryPrimitives.WriteInt16LittleEndian(p.AsSpan(2), (short)vdev);
        BinaryPrimitives.WriteInt32LittleEndian(p.AsSpan(4), endpoint);
        BinaryPrimitives.WriteInt32LittleEndian(p.AsSpan(8), seq);
        return p;
    }

    /// <summary>Null when <paramref name="payload"/> was meant for (remote, vdev, endpoint); else what is wrong.</summary>
    public static string? Misrouted(ReadOnlySpan<byte> payload, int remote, int vdev, int endpoint, string where)
    {
        if (payload.Length != PayloadSize)
            return $"{where}: {payload.Length}-byte payload";
        int r = BinaryPrimitives.ReadInt16LittleEndian(payload), v = BinaryPrimitives.ReadInt16LittleEndian(payload[2..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        return (r, v, k) == (remote, vdev, endpoint) ? null : $"{where}: got a message for remote {r} vdev {v} endpoint {k}";
    }

    private void StartVdev(int vdev) => _devices[vdev] = StartEchoDevice(_platform, vdev, _doorbells[vdev]!, Id, _crossTalk);

    /// <summary>
    /// A remote device on <paramref name="vdev"/> with <see cref="Endpoints"/> echo endpoints at 0x400 + k (a
    /// misrouted message is recorded in <paramref name="crossTalk"/>, not answered), and whatever
    /// <paramref name="beforeStart"/> adds, started.
    /// </summary>
    internal static RpmsgDevice StartEchoDevice(PlatformResources platform, int vdev, IDoorbell doorbell, int remoteId, List<string> crossTalk, Action<RpmsgDevice>? beforeStart = null)
    {
        var device = RpmsgDevice.CreateRemote(platform.CreateRpmsgLayout(vdev), platform.CreateVdevControl(vdev), doorbell,
            new RpmsgDeviceOptions { Name = $"remote{remoteId}.vdev{vdev}", SendTimeout = TimeSpan.FromSeconds(30), MaxEndpoints = Endpoints + 8 });
        try
        {
            for (int k = 0; k < Endpoints; k++)
            {
                int endpoint = k;
                device.CreateEndpoint(FirstAddress + (uint)k, (ept, source, payload) =>
                {
                    if (Misrouted(payload, remoteId, vdev, endpoint, $"remote {remoteId} vdev {vdev} endpoint {endpoint}") is { } wrong)
                    {
                        lock (crossTalk)
                            crossTalk.Add(wrong);
                        return;
                    }
                    if (!ept.TrySendTo(source, payload))
                    {
                        lock (crossTalk)
                            crossTalk.Add($"remote {remoteId} vdev {vdev} endpoint {endpoint}: no tx buffer for the echo");
                    }
                });
            }
            beforeStart?.Invoke(device);
            device.Start();
            return device;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            foreach (var device in _devices)
                device?.Dispose();
            _doorbellsReady.Wait(TimeSpan.FromSeconds(60));
            foreach (var doorbell in _doorbells)
                doorbell?.Dispose();
            _platform.Dispose();
        }
        finally
        {
            PlatformTestJson.Delete(ShmPath);
        }
    }
}
