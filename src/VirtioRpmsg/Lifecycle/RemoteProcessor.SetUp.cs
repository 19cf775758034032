using Microsoft.Extensions.Logging;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

// Set-up: boot, attach, the resource table and a fresh vdev session.
public sealed partial class RemoteProcessor
{
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

    /// <summary>Boot: map, load the firmware or clear the old table, start the remote, take its table, set up the vdev.</summary>
    private void BootCore()
    {
        RemapAll();
        bool tableFromFirmware = _options.FirmwarePath is { } path && LoadFirmware(path);
        if (!tableFromFirmware)
            ClearResourceTable();
        var doorbell = CreateDoorbell();
        try
        {
            _control.Start();
            WaitForResourceTable();
            SetUpVdev(doorbell);
        }
        catch
        {
            if (_session is null)
                doorbell.Dispose();
            throw;
        }
    }

    /// <summary>Attach: map, take the running remote's table as it is, reset the vdev, set up a fresh host device.</summary>
    private void AttachCore()
    {
        RemapAll();
        WaitForResourceTable();
        // Virtio requires a reset before a new driver takes the device; the status byte is the only
        // remote state attach touches. The remote then re-initializes its side of the vrings.
        WriteVdevStatus(VirtioStatus.None);
        var doorbell = CreateDoorbell();
        try
        {
            _control.Attach();
            SetUpVdev(doorbell);
        }
        catch
        {
            if (_session is null)
                doorbell.Dispose();
            throw;
        }
    }

    private IDoorbell CreateDoorbell() =>
        _options.DoorbellFactory?.Invoke()
        ?? (_control as IRemoteDoorbellProvider)?.CreateHostDoorbell()
        ?? _platform.CreateDoorbell();

    /// <summary>Loads the ELF; true when its resource table landed where the platform expects it.</summary>
    private bool LoadFirmware(string path)
    {
        var image = ElfImage.Load(path);
        var table = FirmwareLoader.LocateResourceTable(image, _platform.Memory);
        if (table is not null && (!ReferenceEquals(table.Region.Region, _platform.ResourceTableRegion) || table.RegionOffset != _platform.ResourceTableOffset))
        {
            throw new FirmwareLoadException($"section {ElfImage.ResourceTableSectionName}", table.DeviceAddress, (ulong)table.Length,
                $"lands in region '{table.Region.Region.Name}' at offset 0x{table.RegionOffset:X}, but the platform description puts the resource table in '{_platform.ResourceTableRegion!.Name}' at offset 0x{_platform.ResourceTableOffset:X}");
        }
        FirmwareLoader.Load(image, _platform.Memory);
        _log.LogInformation("remote processor {Name}: loaded firmware {Path}", Name, path);
        return table is not null;
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

    private void WriteVdevStatus(VirtioStatus status)
    {
        var vdev = _platform.RpmsgVdev!;
        using var lease = _platform.ResourceTableRegion!.Acquire();
        lease.WriteByteRelease(_platform.ResourceTableOffset + vdev.StatusByteOffset, (byte)status);
    }

    /// <summary>A fresh host device over the current mapping generation, with every registered driver, started.</summary>
    private void SetUpVdev(IDoorbell doorbell)
    {
        var vdevControl = _platform.CreateVdevControl();
        var layout = _platform.CreateRpmsgLayout();
        var device = RpmsgDevice.CreateHost(layout, vdevControl, doorbell, _options.DeviceOptions);
        var session = new RemoteProcessorSession(Interlocked.Increment(ref _sessionIds), device, doorbell, vdevControl);
        device.ChannelAdded += c => Forward(session, ChannelAdded, c);
        device.ChannelRemoved += c => Forward(session, ChannelRemoved, c);
        device.StateChanged += (_, s) => OnDeviceState(session, s);
        lock (_driversLock)
        {
            foreach (var driver in _drivers)
                device.RegisterDriver(driver);
            _session = session;
        }
        _options.WatchdogDoorbell?.Drain();
        Heartbeat();
        device.Start();
    }

    private void Forward(RemoteProcessorSession session, Action<RpmsgChannel>? handler, RpmsgChannel channel)
    {
        if (!ReferenceEquals(_session, session))
            return;
        PulseChannelWaiters();
        if (handler is not null)
            Raise(() => handler(channel));
    }

    private void OnDeviceState(RemoteProcessorSession session, RpmsgDeviceState state)
    {
        // A protocol violation by the peer: report it from the monitor thread (this may be the dispatcher).
        if (state == RpmsgDeviceState.Broken && ReferenceEquals(_session, session))
        {
            var fault = session.Device.Fault;
            Volatile.Write(ref _pendingCrash, new PendingCrash(session.Id, "the rpmsg device broke: " + (fault?.Message ?? session.Device.StateReason), fault));
            WakeMonitor();
        }
    }

    private void RemapAll()
    {
        foreach (var region in _platform.Regions)
        {
            if (!region.IsMapped)
                region.Remap();
        }
    }
}
