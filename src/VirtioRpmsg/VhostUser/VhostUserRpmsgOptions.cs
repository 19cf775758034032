using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.VhostUser;

/// <summary>Settings of a <see cref="VhostUserRpmsgServer"/> and of the remote devices it creates.</summary>
public sealed class VhostUserRpmsgOptions
{
    /// <summary>
    /// Options of every remote device (one per guest, created fresh each time the guest sets its queues up).
    /// <see cref="RpmsgDeviceOptions.NameService"/> and <see cref="RpmsgDeviceOptions.EventIndex"/> decide the
    /// features offered.
    /// </summary>
    public RpmsgDeviceOptions Device { get; set; } = new() { Name = "vhost-user-rpmsg" };

    /// <summary>Size of the guest's rpmsg buffers, header included (Linux virtio_rpmsg_bus: 512).</summary>
    public int BufferSize { get; set; } = 512;

    /// <summary>
    /// Called with each new remote device before it starts: create its endpoints here (they are announced when
    /// the guest's driver is ready). Runs on the server's thread; the device belongs to the server.
    /// </summary>
    public Action<RpmsgDevice>? DeviceCreated { get; set; }

    /// <summary>Called when a device goes away (guest gone, queue disabled, reset, protocol fault) with the reason, after it was stopped (it touches guest memory no more).</summary>
    public Action<RpmsgDevice, string>? DeviceRemoved { get; set; }

    /// <summary>Called when a guest connects, with its number (1, 2, ...).</summary>
    public Action<int>? GuestConnected { get; set; }

    /// <summary>Called when a guest's connection ended: its number, the fault if it broke the protocol (else null), and why.</summary>
    public Action<int, Fault?, string>? GuestDisconnected { get; set; }

    /// <summary>Log sink for connections and faults.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>
    /// How long a fresh device waits for the application's zero-copy buffers of the last one (short by contract)
    /// before the connection ends instead (<see cref="Rpmsg.RpmsgTxBuffer"/>, <see cref="Rpmsg.RpmsgRxView"/>).
    /// </summary>
    internal TimeSpan ZeroCopyDrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Test hook: a fresh device is about to wait for zero-copy buffers of the last one.</summary>
    internal Action? WaitingForZeroCopy { get; set; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Device, nameof(Device));
        if (BufferSize < RpmsgHeader.Size + 1 || BufferSize > RpmsgHeader.Size + ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(BufferSize), BufferSize, $"BufferSize must be between {RpmsgHeader.Size + 1} and {RpmsgHeader.Size + ushort.MaxValue} bytes.");
        // Here, not when a guest sets its queues up: every guest's device would be refused then.
        RpmsgDevice.CheckNameServiceFits(BufferSize, Device.NameService, nameof(BufferSize));
    }
}
