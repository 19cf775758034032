using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Where an rpmsg virtio device's parts sit in device address space: the two vrings and the buffer
/// pool. Vring 0 carries device-to-driver messages (the driver's rx), vring 1 driver-to-device.
/// The pool is split in half: rx buffers first, then tx buffers (as Linux and OpenAMP do).
/// </summary>
public sealed record RpmsgVdevLayout
{
    /// <summary>The regions the addresses below translate through.</summary>
    public required AddressMap Memory { get; init; }

    /// <summary>Device address of vring 0 (device to driver).</summary>
    public required ulong Vring0Address { get; init; }

    /// <summary>Device address of vring 1 (driver to device).</summary>
    public required ulong Vring1Address { get; init; }

    /// <summary>Entries per vring (power of two).</summary>
    public int VringNum { get; init; } = 256;

    /// <summary>Vring alignment (rpmsg uses 4096).</summary>
    public int VringAlign { get; init; } = 4096;

    /// <summary>Device address of the buffer pool (the host's; a remote only uses the buffers the host posts, so it is not checked there).</summary>
    public required ulong BufferPoolAddress { get; init; }

    /// <summary>Total number of buffers (half rx, half tx); defaults to two per vring entry.</summary>
    public int BufferCount { get; init; } = 512;

    /// <summary>Size of each buffer, header included (512 by default: 16 + 496 payload).</summary>
    public int BufferSize { get; init; } = 512;

    /// <summary>Remote role: the first avail index to take on vring 0 (a resumed vhost-user ring; 0 otherwise).</summary>
    internal ushort Vring0NextAvail { get; init; }

    /// <summary>Remote role: vring 0 heads a device stopped on these rings took and never returned (a resumed vhost-user ring).</summary>
    internal int[]? Vring0InFlight { get; init; }

    /// <summary>Remote role: vring 1 heads a device stopped on these rings took and never gave back (a resumed vhost-user ring).</summary>
    internal int[]? Vring1InFlight { get; init; }

    /// <summary>Remote role: the first avail index to take on vring 1 (a resumed vhost-user ring; 0 otherwise).</summary>
    internal ushort Vring1NextAvail { get; init; }

    /// <summary>Whose departures from the virtio spec the other side makes (default: none).</summary>
    public RpmsgPeerConventions Conventions { get; init; } = RpmsgPeerConventions.Virtio;

    /// <summary>The public OpenAMP Linux-userspace layout: vrings at 0x4000 and 0x8000 (num 256, align 0x1000), pool at 0x10000 (512 x 512 bytes).</summary>
    public static RpmsgVdevLayout OpenAmpLinux(AddressMap memory) => new()
    {
        Memory = memory,
        Vring0Address = 0x4000,
        Vring1Address = 0x8000,
        VringNum = 256,
        VringAlign = 0x1000,
        BufferPoolAddress = 0x10000,
        BufferCount = 512,
        BufferSize = 512,
    };

    /// <summary>Checks the layout is self-consistent and lies inside <see cref="Memory"/>.</summary>
    public void Validate() => Validate(RpmsgRole.Host);

    /// <summary>As <see cref="Validate()"/>; the pool is checked only where it is used, in the host role.</summary>
    internal void Validate(RpmsgRole role)
    {
        var layout = new VringLayout(VringNum, VringAlign);
        if (BufferSize < RpmsgHeader.Size + 1 || BufferSize > RpmsgHeader.Size + ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(BufferSize), BufferSize, $"BufferSize must be between {RpmsgHeader.Size + 1} and {RpmsgHeader.Size + ushort.MaxValue} bytes.");
        if (BufferCount < 2 || BufferCount % 2 != 0 || BufferCount / 2 > VringNum)
            throw new ArgumentOutOfRangeException(nameof(BufferCount), BufferCount, $"BufferCount must be even, at least 2, and at most 2 x VringNum ({2 * VringNum}).");
        Memory.Translate(Vring0Address, (ulong)layout.TotalSize);
        Memory.Translate(Vring1Address, (ulong)layout.TotalSize);
        if (role == RpmsgRole.Host)
            Memory.Translate(BufferPoolAddress, (ulong)BufferCount * (ulong)BufferSize);
    }
}
