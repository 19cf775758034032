using Microsoft.Extensions.Logging;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

// Set-up: boot, attach, the resource table and a fresh session (a device per vdev).
public sealed partial class RemoteProcessor
{
    // This session's resource table as the remote (or its image) presented it, before the host wrote into it: a detach
    // writes it back, as Linux's detach restores the clean table it kept at attach.
    private ResourceTable? _presentedTable;

    /// <summary>Starting, then running; on failure everything set up so far is released and the state goes back.</summary>
    private void SetUp(RemoteProcessorState previous, Action core, string what, bool stopRemoteOnFailure)
    {
        SetState(RemoteProcessorState.Starting);
        try
        {
            core();
        }
        catch (Exception e)
        {
            AbortSetUp($"{what} failed: {e.Message}", stopRemoteOnFailure);
            SetState(previous);
            throw;
        }
        SetState(RemoteProcessorState.Running);
    }

    /// <summary>Boot: map, load the firmware (or clear the old table), start the remote, take its table, set up every vdev.</summary>
    private void BootCore()
    {
        _presentedTable = null;
        RemapAll();
        if (_options.FirmwarePath is { } path)
            LoadFirmware(path);
        else
            ClearResourceTable();
        var doorbells = CreateDoorbells();
        try
        {
            _control.Start();
            WaitForResourceTable();
            SetUpVdevs(doorbells);
        }
        catch
        {
            if (_session is null)
                DisposeAll(doorbells);
            throw;
        }
    }

    /// <summary>Attach: map, take the running remote's table as it is, reset the vdev, set up a fresh host device.</summary>
    private void AttachCore() => AttachCore(clean: null);

    /// <summary>
    /// As <see cref="AttachCore()"/>; <paramref name="clean"/> (an attach-mode recovery: the crashed session's presented
    /// table) is written back first, as Linux's rproc_attach_recovery detaches (rproc_reset_rsc_table_on_detach) before it
    /// attaches: read as the crash left it, the table held the host's choices, and a later detach "restored" those.
    /// </summary>
    private void AttachCore(ResourceTable? clean)
    {
        _presentedTable = clean; // kept until written back: a failure before that still restores it (FailedAttach)
        RemapAll();
        if (clean is not null)
            _platform.RestoreResourceTable(clean);
        _presentedTable = null;
        WaitForResourceTable();
        // Virtio requires a reset before a new driver takes the device; the status byte is the only
        // remote state attach touches. The remote then re-initializes its side of the vrings.
        for (int i = 0; i < _platform.Vdevs.Count; i++)
            WriteVdevStatus(i, VirtioStatus.None);
        var doorbells = CreateDoorbells();
        try
        {
            _control.Attach();
            SetUpVdevs(doorbells);
        }
        catch
        {
            if (_session is null)
                DisposeAll(doorbells);
            throw;
        }
    }

    /// <summary>A fresh host doorbell per vdev; all or nothing.</summary>
    private IDoorbell[] CreateDoorbells()
    {
        var doorbells = new List<IDoorbell>(_platform.Vdevs.Count);
        try
        {
            for (int i = 0; i < _platform.Vdevs.Count; i++)
                doorbells.Add(CreateDoorbell(i));
            return [.. doorbells];
        }
        catch
        {
            DisposeAll(doorbells);
            throw;
        }
    }

    private IDoorbell CreateDoorbell(int vdev) =>
        _options.VdevDoorbellFactory?.Invoke(vdev)
        ?? _options.DoorbellFactory?.Invoke()
        ?? (_control as IRemoteVdevDoorbellProvider)?.CreateHostDoorbell(vdev)
        ?? (_control as IRemoteDoorbellProvider)?.CreateHostDoorbell()
        ?? _platform.CreateDoorbell(vdev);

    /// <summary>
    /// Several vdevs need a doorbell each: a source that makes one (<see cref="RemoteProcessorOptions.DoorbellFactory"/>,
    /// a control that is only an <see cref="IRemoteDoorbellProvider"/>) is refused up front, not at the first boot.
    /// </summary>
    private static void RequireDoorbellPerVdev(PlatformResources platform, IRemoteProcessorControl control, RemoteProcessorOptions options)
    {
        if (options.VdevDoorbellFactory is not null)
            return;
        string entries = $"[{platform.Vdevs.Count - 1} entries]";
        if (options.DoorbellFactory is not null)
            throw new PlatformDescriptionException("additionalVdevs", entries,
                "RemoteProcessorOptions.DoorbellFactory makes one doorbell, but each vdev needs its own: set RemoteProcessorOptions.VdevDoorbellFactory");
        if (control is IRemoteDoorbellProvider and not IRemoteVdevDoorbellProvider)
            throw new PlatformDescriptionException("additionalVdevs", entries,
                $"control '{control.Name}' makes one host doorbell (IRemoteDoorbellProvider), but each vdev needs its own: it must implement IRemoteVdevDoorbellProvider, or set RemoteProcessorOptions.VdevDoorbellFactory");
    }

    private static void DisposeAll(IEnumerable<IDisposable> items)
    {
        foreach (var item in items.Reverse())
            item.Dispose();
    }

    /// <summary>
    /// Loads the ELF. Without a .resource_table section the old table is invalidated first, so the loaded
    /// bytes are what the remote finds. With one, the table is parsed and resolved as loaded (ADDR_ANY vrings
    /// chosen and written back) before the remote is powered on, as Linux's rproc_fw_boot does: a bad
    /// table is refused here, naming its field, with the remote still off.
    /// </summary>
    private void LoadFirmware(string path)
    {
        var image = ElfImage.Load(path);
        var table = FirmwareLoader.LocateResourceTable(image, _platform.Memory);
        if (table is not null && (!ReferenceEquals(table.Region.Region, _platform.ResourceTableRegion) || table.RegionOffset != _platform.ResourceTableOffset))
        {
            throw new FirmwareLoadException($"section {ElfImage.ResourceTableSectionName}", table.DeviceAddress, (ulong)table.Length,
                $"lands in region '{table.Region.Region.Name}' at offset 0x{table.RegionOffset:X}, but the platform description puts the resource table in '{_platform.ResourceTableRegion!.Name}' at offset 0x{_platform.ResourceTableOffset:X}");
        }
        if (table is null)
            ClearResourceTable();
        var loaded = FirmwareLoader.Load(image, _platform.Memory);
        _log.LogInformation("remote processor {Name}: loaded firmware {Path}", Name, path);
        // ADDR_ANY vrings and carveouts are placed clear of the image (it is often in the table's own region).
        if (table is not null)
        {
            _platform.LoadResourceTableClearOf([.. loaded.Select(s => (s.DeviceAddress, s.MemorySize))]);
            _presentedTable = _platform.PresentedTable;
        }
    }

    /// <summary>Boot without a firmware table: invalidate the previous table so only the one the remote writes now counts.</summary>
    private void ClearResourceTable()
    {
        using var lease = _platform.ResourceTableRegion!.Acquire();
        lease.WriteUInt32Release(_platform.ResourceTableOffset, 0);
    }

    /// <summary>Reads the table once into a private copy until it is valid or the boot timeout passes.</summary>
    private void WaitForResourceTable()
    {
        var deadline = Deadline.Within(_options.BootTimeout);
        var spin = new SpinWait();
        while (true)
        {
            try
            {
                _platform.LoadResourceTable();
                _presentedTable ??= _platform.PresentedTable;
                return;
            }
            catch (ResourceTableException e)
            {
                // The remote may still be writing it (version 0 until it is complete).
                if (deadline.IsExpired)
                    throw new TimeoutException($"remote processor '{Name}': no valid resource table within {_options.BootTimeout.TotalMilliseconds} ms: {e.Message}", e);
            }
            spin.SpinOnce(sleep1Threshold: 20);
        }
    }

    private void WriteVdevStatus(int index, VirtioStatus status)
    {
        var vdev = _platform.Vdevs[index].Entry!;
        using var lease = _platform.ResourceTableRegion!.Acquire();
        lease.WriteByteRelease(_platform.ResourceTableOffset + vdev.StatusByteOffset, (byte)status);
    }

    /// <summary>
    /// A fresh host device per vdev over the current mapping generation, each with its own doorbell and
    /// every registered driver, started. Nothing of an earlier session is reused (seeds 002/003).
    /// </summary>
    private void SetUpVdevs(IDoorbell[] doorbells)
    {
        var vdevs = new List<RemoteProcessorVdev>(doorbells.Length);
        try
        {
            for (int i = 0; i < doorbells.Length; i++)
            {
                var vdevControl = _platform.CreateVdevControl(i);
                var layout = _platform.CreateRpmsgLayout(i);
                var options = i == 0 ? _options.DeviceOptions : _options.DeviceOptions.WithName($"{_options.DeviceOptions.Name}.vdev{i}");
                vdevs.Add(new RemoteProcessorVdev(i, RpmsgDevice.CreateHost(layout, vdevControl, doorbells[i], options), doorbells[i], vdevControl));
            }
        }
        catch
        {
            // Not yet the session: teardown would not see these devices.
            DisposeAll(vdevs.Select(v => v.Device));
            throw;
        }
        var session = new RemoteProcessorSession(Interlocked.Increment(ref _sessionIds), [.. vdevs]);
        foreach (var vdev in vdevs)
        {
            var device = vdev.Device;
            device.ChannelAdded += c => Forward(session, ChannelAdded, c);
            device.ChannelRemoved += c => Forward(session, ChannelRemoved, c);
            device.ChannelReady += _ => PulseChannelWaiters(); // what WaitForChannel waits for
            device.StateChanged += (_, s) => OnDeviceState(session, vdev, s);
        }
        lock (_driversLock)
        {
            foreach (var vdev in vdevs)
            {
                foreach (var driver in _drivers)
                    vdev.Device.RegisterDriver(driver);
            }
            _session = session;
        }
        _options.WatchdogDoorbell?.Drain();
        Heartbeat();
        foreach (var vdev in vdevs)
            vdev.Device.Start();
    }

    private void Forward(RemoteProcessorSession session, Action<RpmsgChannel>? handler, RpmsgChannel channel)
    {
        if (!ReferenceEquals(_session, session))
            return;
        PulseChannelWaiters();
        if (handler is not null)
            Raise(() => handler(channel));
    }

    private void OnDeviceState(RemoteProcessorSession session, RemoteProcessorVdev vdev, RpmsgDeviceState state)
    {
        // A protocol violation by the peer: report it from the monitor thread (this may be the dispatcher).
        // Any vdev's: the remote as a whole is recovered, as Linux does for a crash.
        if (state == RpmsgDeviceState.Broken && ReferenceEquals(_session, session))
        {
            var fault = vdev.Device.Fault;
            string which = session.Vdevs.Count > 1 ? $"the rpmsg device of vdev {vdev.Index} broke: " : "the rpmsg device broke: ";
            Volatile.Write(ref _pendingCrash, new PendingCrash(session.Id, which + (fault?.Message ?? vdev.Device.StateReason), fault));
            WakeMonitor();
        }
    }
}
