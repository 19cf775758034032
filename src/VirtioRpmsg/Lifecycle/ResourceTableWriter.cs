using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Writes the driver's decisions back into a resource table in memory (vring addresses chosen for
/// ADDR_ANY, the vring notify ids the host assigned, carveouts it allocated, gfeatures, the status byte), at the offsets of a parsed <see cref="ResourceTable"/>.
/// Before every write it re-checks that the target still holds the entry at the parsed offset
/// (offset array slot, type word and vring count): a remote that rewrote its table since it was
/// parsed gets an error instead of a write into the middle of something else.
/// </summary>
/// <remarks>
/// The target is the table's bytes (<c>table[0]</c> is the table start): a span, or a mapping lease
/// plus the table's offset in it. Plain fields are written with plain stores; the status byte is the
/// publish point (store-release), so a peer that sees the new status also sees every earlier write.
/// </remarks>
public sealed class ResourceTableWriter
{
    private readonly ResourceTable _table;

    /// <summary>Creates a writer for the fields of <paramref name="table"/>, at the offsets it was parsed with.</summary>
    public ResourceTableWriter(ResourceTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        _table = table;
    }

    /// <summary>The table whose offsets this writer uses.</summary>
    public ResourceTable Table => _table;

    /// <summary>Writes da and pa of vring <paramref name="vringIndex"/>; returns the updated record.</summary>
    public VdevVring SetVringAddress(Span<byte> target, VdevEntry vdev, int vringIndex, uint deviceAddress, uint physicalAddress)
    {
        CheckTarget(target, vdev);
        if ((uint)vringIndex >= (uint)vdev.Vrings.Count)
            throw new ArgumentOutOfRangeException(nameof(vringIndex), vringIndex, $"Vdev entry {vdev.Index} has {vdev.Vrings.Count} vrings.");
        var ring = vdev.Vrings[vringIndex];
        BinaryPrimitives.WriteUInt32LittleEndian(target.Slice(ring.Offset, 4), deviceAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(target.Slice(ring.Offset + 16, 4), physicalAddress);
        return ring with { DeviceAddress = deviceAddress, PhysicalAddress = physicalAddress };
    }

    /// <summary>Writes the features the driver accepted (gfeatures).</summary>
    public void SetGuestFeatures(Span<byte> target, VdevEntry vdev, uint features)
    {
        CheckTarget(target, vdev);
        BinaryPrimitives.WriteUInt32LittleEndian(target.Slice(vdev.Offset + VdevEntry.GuestFeaturesOffset, 4), features);
    }

    /// <summary>Publishes the virtio status byte (store-release: every earlier write is visible first).</summary>
    public void WriteStatus(Span<byte> target, VdevEntry vdev, byte status)
    {
        CheckTarget(target, vdev);
        Volatile.Write(ref target[vdev.StatusByteOffset], status);
    }

    /// <summary>Reads the status byte again (load-acquire: the peer may have changed it). An untrusted value.</summary>
    public byte ReadStatus(ReadOnlySpan<byte> target, VdevEntry vdev)
    {
        CheckTarget(target, vdev);
        return Volatile.Read(ref MemoryMarshal.GetReference(target.Slice(vdev.StatusByteOffset, 1)));
    }

    // Lease variants: the table sits at tableOffset in the lease's mapping. Every field goes through the
    // lease's accessors (never a span), so the table may live in Device memory.

    /// <inheritdoc cref="SetVringAddress(Span{byte}, VdevEntry, int, uint, uint)"/>
    public VdevVring SetVringAddress(in MappingLease lease, long tableOffset, VdevEntry vdev, int vringIndex, uint deviceAddress, uint physicalAddress)
    {
        CheckTarget(lease, tableOffset, vdev);
        if ((uint)vringIndex >= (uint)vdev.Vrings.Count)
            throw new ArgumentOutOfRangeException(nameof(vringIndex), vringIndex, $"Vdev entry {vdev.Index} has {vdev.Vrings.Count} vrings.");
        var ring = vdev.Vrings[vringIndex];
        lease.WriteUInt32(tableOffset + ring.Offset, deviceAddress);
        lease.WriteUInt32(tableOffset + ring.Offset + 16, physicalAddress);
        return ring with { DeviceAddress = deviceAddress, PhysicalAddress = physicalAddress };
    }

    /// <summary>
    /// Writes the notify id of vring <paramref name="vringIndex"/>, as Linux's rproc_alloc_vring does with the id it
    /// assigned (the kick word the remote matches); returns the updated record.
    /// </summary>
    public VdevVring SetVringNotifyId(in MappingLease lease, long tableOffset, VdevEntry vdev, int vringIndex, uint notifyId)
    {
        CheckTarget(lease, tableOffset, vdev);
        if ((uint)vringIndex >= (uint)vdev.Vrings.Count)
            throw new ArgumentOutOfRangeException(nameof(vringIndex), vringIndex, $"Vdev entry {vdev.Index} has {vdev.Vrings.Count} vrings.");
        var ring = vdev.Vrings[vringIndex];
        lease.WriteUInt32(tableOffset + ring.Offset + VdevVring.NotifyIdOffset, notifyId);
        return ring with { NotifyId = notifyId };
    }

    /// <summary>Writes da and pa of a carveout the host allocated (it was ADDR_ANY); returns the updated record.</summary>
    public CarveoutEntry SetCarveoutAddress(in MappingLease lease, long tableOffset, CarveoutEntry carveout, uint deviceAddress, uint physicalAddress)
    {
        _table.RequireOwnEntry(carveout);
        CheckTableFits(lease, tableOffset);
        uint slot = lease.ReadUInt32(tableOffset + ResourceTable.HeaderSize + 4 * carveout.Index);
        if (slot != (uint)carveout.Offset)
            throw new ResourceTableException($"offset[{carveout.Index}]", carveout.Index, slot, $"changed since the table was parsed (was 0x{carveout.Offset:X})");
        uint type = lease.ReadUInt32(tableOffset + carveout.Offset);
        if (type != (uint)ResourceType.Carveout)
            throw new ResourceTableException("type", carveout.Index, type, "changed since the table was parsed (was carveout)");
        lease.WriteUInt32(tableOffset + carveout.Offset + 4, deviceAddress);
        lease.WriteUInt32(tableOffset + carveout.Offset + 8, physicalAddress);
        return carveout with { DeviceAddress = deviceAddress, PhysicalAddress = physicalAddress };
    }

    /// <inheritdoc cref="SetGuestFeatures(Span{byte}, VdevEntry, uint)"/>
    public void SetGuestFeatures(in MappingLease lease, long tableOffset, VdevEntry vdev, uint features)
    {
        CheckTarget(lease, tableOffset, vdev);
        lease.WriteUInt32(tableOffset + vdev.Offset + VdevEntry.GuestFeaturesOffset, features);
    }

    /// <inheritdoc cref="WriteStatus(Span{byte}, VdevEntry, byte)"/>
    public void WriteStatus(in MappingLease lease, long tableOffset, VdevEntry vdev, byte status)
    {
        CheckTarget(lease, tableOffset, vdev);
        lease.WriteByteRelease(tableOffset + vdev.StatusByteOffset, status);
    }

    /// <inheritdoc cref="ReadStatus(ReadOnlySpan{byte}, VdevEntry)"/>
    public byte ReadStatus(in MappingLease lease, long tableOffset, VdevEntry vdev)
    {
        CheckTarget(lease, tableOffset, vdev);
        return lease.ReadByteAcquire(tableOffset + vdev.StatusByteOffset);
    }

    // The same re-validation as the span variant, field by field through the lease.
    private void CheckTarget(in MappingLease lease, long tableOffset, VdevEntry vdev)
    {
        _table.RequireOwnEntry(vdev);
        CheckTableFits(lease, tableOffset);
        CheckEntry(vdev,
            lease.ReadUInt32(tableOffset + ResourceTable.HeaderSize + 4 * vdev.Index),
            lease.ReadUInt32(tableOffset + vdev.Offset),
            lease.ReadByte(tableOffset + vdev.Offset + VdevEntry.NumVringsOffset));
    }

    private void CheckTableFits(in MappingLease lease, long tableOffset)
    {
        if ((ulong)tableOffset > (ulong)lease.Length || (ulong)_table.Length > (ulong)(lease.Length - tableOffset))
            throw new AddressRangeException(nameof(tableOffset), $"Region '{lease.Region.Name}' of 0x{lease.Length:X} bytes", unchecked((ulong)tableOffset), (ulong)_table.Length, "cannot hold the resource table");
    }

    private void CheckTarget(ReadOnlySpan<byte> target, VdevEntry vdev)
    {
        _table.RequireOwnEntry(vdev);
        if (target.Length < _table.Length)
            throw new ArgumentException($"Target holds {target.Length} bytes; the resource table was parsed from {_table.Length}.", nameof(target));
        // Re-validate against the live bytes: the remote may have rewritten its table since it was parsed.
        CheckEntry(vdev,
            BinaryPrimitives.ReadUInt32LittleEndian(target.Slice(ResourceTable.HeaderSize + 4 * vdev.Index, 4)),
            BinaryPrimitives.ReadUInt32LittleEndian(target.Slice(vdev.Offset, 4)),
            target[vdev.Offset + VdevEntry.NumVringsOffset]);
    }

    private static void CheckEntry(VdevEntry vdev, uint slot, uint type, byte rings)
    {
        if (slot != (uint)vdev.Offset)
            throw new ResourceTableException($"offset[{vdev.Index}]", vdev.Index, slot, $"changed since the table was parsed (was 0x{vdev.Offset:X})");
        if (type != (uint)ResourceType.Vdev)
            throw new ResourceTableException("type", vdev.Index, type, "changed since the table was parsed (was vdev)");
        if (rings != vdev.Vrings.Count)
            throw new ResourceTableException("vdev.num_of_vrings", vdev.Index, rings, $"changed since the table was parsed (was {vdev.Vrings.Count})");
    }
}
