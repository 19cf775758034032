namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// One rpmsg vdev of opened <see cref="PlatformResources"/>: its description, its entry in the
/// resource table and its resolved layout (vrings and buffer pool). Vdev 0 is the description's
/// <c>vdev</c> and <c>doorbell</c>; vdev 1, 2, ... its <c>additionalVdevs</c>, in order, matched to the
/// table's rpmsg vdev entries in table order.
/// </summary>
public sealed class PlatformVdev
{
    private readonly bool _fromTable;

    internal PlatformVdev(int index, PlatformVdevDescription description, bool fromTable)
    {
        Index = index;
        Description = description;
        _fromTable = fromTable;
        var v = description.Vdev;
        BufferCount = v.BufferCount ?? VdevLayoutDescription.DefaultBufferCount;
        BufferSize = v.BufferSize ?? VdevLayoutDescription.DefaultBufferSize;
        BufferPoolAddress = v.BufferPoolAddress!.Value;
        BufferPoolSize = v.BufferPoolSize ?? (ulong)BufferCount * (ulong)BufferSize;
        NotifyIds = new VirtioRpmsg.Platform.VringNotifyIds(index);
    }

    /// <summary>0 for the description's <c>vdev</c>, i for <c>additionalVdevs[i-1]</c>.</summary>
    public int Index { get; }

    /// <summary>This vdev's layout and doorbell as described.</summary>
    public PlatformVdevDescription Description { get; }

    /// <summary>This vdev's entry of the resource table as parsed (null before the table is written or loaded, and without one).</summary>
    public VdevEntry? Entry { get; internal set; }

    /// <summary>
    /// The notify ids of vrings 0 and 1: 2k and 2k+1 for vdev k until a resource table is loaded, then the table's (a
    /// host numbers every vring of every vdev from 0 in table order and writes the ids in, as Linux does).
    /// </summary>
    public (uint Vring0, uint Vring1) VringNotifyIds => (NotifyIds.Get(0), NotifyIds.Get(1));

    /// <summary>The live ids a mailbox reads at each kick.</summary>
    internal VirtioRpmsg.Platform.VringNotifyIds NotifyIds { get; }

    /// <summary>True once the vring addresses, num and align are known.</summary>
    public bool IsLayoutResolved => Vring0 is not null && Vring1 is not null && Num is not null && Align is not null;

    /// <summary>Device address of vring 0 (device to driver).</summary>
    public ulong Vring0Address => Vring0 ?? throw Unresolved();

    /// <summary>Device address of vring 1 (driver to device).</summary>
    public ulong Vring1Address => Vring1 ?? throw Unresolved();

    /// <summary>Entries per vring, from the table or the description.</summary>
    public int VringNum => Num ?? throw Unresolved();

    /// <summary>Alignment of the used ring in each vring, from the table or the description.</summary>
    public int VringAlign => Align ?? throw Unresolved();

    /// <summary>Device address of the buffer pool.</summary>
    public ulong BufferPoolAddress { get; }

    /// <summary>Bytes reserved for the pool (at least <see cref="BufferCount"/> * <see cref="BufferSize"/>).</summary>
    public ulong BufferPoolSize { get; }

    /// <summary>Buffers in the pool: the first half rx, the second half tx.</summary>
    public int BufferCount { get; }

    /// <summary>Bytes per buffer, the 16-byte rpmsg header included.</summary>
    public int BufferSize { get; }

    internal ulong? Vring0 { get; set; }
    internal ulong? Vring1 { get; set; }
    internal int? Num { get; set; }
    internal int? Align { get; set; }

    /// <summary>The JSON path of one of this vdev's layout fields, e.g. "additionalVdevs[0].vdev.bufferPoolAddress".</summary>
    internal string PathOf(string field) => PlatformDescription.VdevPathPrefix(Index) + "vdev." + field;

    private InvalidOperationException Unresolved() => new(!_fromTable
        ? $"The layout of vdev {Index} is not resolved."
        : $"The layout of vdev {Index} comes from the resource table, which has not been loaded (or still has ADDR_ANY vrings): call LoadResourceTable.");

    /// <summary>Index and layout, for logs.</summary>
    public override string ToString() => IsLayoutResolved
        ? $"vdev {Index}: vrings 0x{Vring0:X}/0x{Vring1:X} ({Num} x align {Align}), pool 0x{BufferPoolAddress:X} ({BufferCount} x {BufferSize})"
        : $"vdev {Index}: unresolved, pool 0x{BufferPoolAddress:X} ({BufferCount} x {BufferSize})";
}
