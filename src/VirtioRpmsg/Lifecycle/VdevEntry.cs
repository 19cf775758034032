namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A virtio device entry: id, notifyid, dfeatures, gfeatures, config_len, status, num_of_vrings,
/// reserved[2], then the vrings, then <see cref="ConfigLength"/> bytes of config space.
/// </summary>
/// <param name="Index">Position of the entry in the table's offset array.</param>
/// <param name="Offset">Byte offset of the entry (its type word) from the table start.</param>
/// <param name="Id">Virtio device id (<see cref="Rpmsg.RpmsgFeatures.VirtioDeviceId"/> for rpmsg).</param>
/// <param name="NotifyId">Notify id of the device itself.</param>
/// <param name="DeviceFeatures">dfeatures: what the remote offers.</param>
/// <param name="GuestFeatures">gfeatures: what the host accepted.</param>
/// <param name="ConfigLength">config_len: bytes of config space after the vrings.</param>
/// <param name="Status">The virtio status byte as read.</param>
/// <param name="Vrings">The vring descriptors, in order.</param>
public sealed record VdevEntry(
    int Index, int Offset, uint Id, uint NotifyId, uint DeviceFeatures, uint GuestFeatures, uint ConfigLength, byte Status,
    IReadOnlyList<VdevVring> Vrings) : ResourceEntry(Index, Offset)
{
    /// <summary>Bytes before the first vring entry.</summary>
    public const int HeaderSize = 28;

    // Field offsets relative to the entry start.
    internal const int IdOffset = 4;
    internal const int NotifyIdOffset = 8;
    /// <summary>Offset of dfeatures (32-bit, written by the remote) from the entry start.</summary>
    public const int DeviceFeaturesOffset = 12;

    /// <summary>Offset of gfeatures (32-bit, written by the host) from the entry start.</summary>
    public const int GuestFeaturesOffset = 16;

    internal const int ConfigLengthOffset = 20;

    /// <summary>Offset of the virtio status byte from the entry start.</summary>
    public const int StatusOffset = 24;

    internal const int NumVringsOffset = 25;

    /// <summary>Always <see cref="ResourceType.Vdev"/> (3).</summary>
    public override uint TypeCode => (uint)ResourceType.Vdev;

    /// <summary>Byte offset of the config space from the table start.</summary>
    public int ConfigOffset => Offset + HeaderSize + Vrings.Count * VdevVring.EntrySize;

    /// <summary>Byte offset of the status byte from the table start.</summary>
    public int StatusByteOffset => Offset + StatusOffset;

    /// <summary>Bytes of the entry: header, one vring descriptor per vring, then the config space.</summary>
    public override int Size => HeaderSize + Vrings.Count * VdevVring.EntrySize + (int)ConfigLength;
}
