using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Lifecycle;

public class ResourceTableWriterTests
{
    private static byte[] AnyAddressTable() => new ResourceTableBuilder()
        .AddTrace(0x100, 0x10, "log")
        .AddVdev(7, 0, 1, 0, 0,
        [
            new VringSpec(ResourceTable.AddrAny, 0x1000, 256, 1, ResourceTable.AddrAny),
            new VringSpec(ResourceTable.AddrAny, 0x1000, 256, 2, ResourceTable.AddrAny),
        ])
        .Build();

    [Fact]
    public void Write_SpanRoundTrip_ReparseSeesDecisions()
    {
        byte[] bytes = AnyAddressTable();
        var table = ResourceTable.Parse(bytes);
        var vdev = table.GetRpmsgVdev();
        var writer = new ResourceTableWriter(table);

        var updated = writer.SetVringAddress(bytes, vdev, 0, 0x4000, 0x9000_4000);
        writer.SetVringAddress(bytes, vdev, 1, 0x8000, 0x9000_8000);
        writer.SetGuestFeatures(bytes, vdev, 1);
        writer.WriteStatus(bytes, vdev, 0x0F);

        Assert.Equal(vdev.Vrings[0] with { DeviceAddress = 0x4000, PhysicalAddress = 0x9000_4000 }, updated);
        Assert.Equal(0x0F, writer.ReadStatus(bytes, vdev));
        var again = ResourceTable.Parse(bytes).GetRpmsgVdev();
        Assert.Equal(0x4000u, again.Vrings[0].DeviceAddress);
        Assert.Equal(0x9000_4000u, again.Vrings[0].PhysicalAddress);
        Assert.Equal(0x8000u, again.Vrings[1].DeviceAddress);
        Assert.Equal(0x9000_8000u, again.Vrings[1].PhysicalAddress);
        Assert.Equal(1u, again.GuestFeatures);
        Assert.Equal(0x0F, again.Status);
        // Nothing else moved: the trace entry and the vring shapes are unchanged.
        Assert.Equal(table.Traces.Single(), ResourceTable.Parse(bytes).Traces.Single());
        Assert.Equal(256u, again.Vrings[1].Num);
    }

    [Fact]
    public void Write_ThroughLease_RoundTripAtOffset()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x10000, deviceAddress: 0x3000_0000);
        const long at = 0x400;
        byte[] bytes = ResourceTableBuilder.BuildOpenAmpLinux();
        ResourceTable table;
        using (var lease = region.Acquire())
        {
            lease.WriteBytes(at, bytes);
            table = ResourceTable.Read(lease, at, bytes.Length);
        }
        var vdev = table.GetRpmsgVdev();
        var writer = new ResourceTableWriter(table);
        using (var lease = region.Acquire())
        {
            writer.SetGuestFeatures(lease, at, vdev, 1);
            writer.WriteStatus(lease, at, vdev, 0x07);
            // The peer acknowledges by changing the status; we read it again with acquire.
            lease.WriteByte(at + vdev.StatusByteOffset, 0x0F);
            Assert.Equal(0x0F, writer.ReadStatus(lease, at, vdev));
            Assert.Equal(1u, lease.ReadUInt32(at + vdev.Offset + 16));
        }
    }

    [Fact]
    public void Write_TableChangedSinceParse_ThrowsAndWritesNothing()
    {
        byte[] bytes = AnyAddressTable();
        var table = ResourceTable.Parse(bytes);
        var vdev = table.GetRpmsgVdev();
        var writer = new ResourceTableWriter(table);

        byte[] moved = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(moved.AsSpan(20), (uint)vdev.Offset + 4);
        Assert.Equal("offset[1]", Assert.Throws<ResourceTableException>(() => writer.WriteStatus(moved, vdev, 4)).Field);

        byte[] retyped = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(retyped.AsSpan(vdev.Offset), 0);
        Assert.Equal("type", Assert.Throws<ResourceTableException>(() => writer.SetGuestFeatures(retyped, vdev, 1)).Field);

        byte[] reshaped = (byte[])bytes.Clone();
        reshaped[vdev.Offset + 25] = 1;
        Assert.Equal("vdev.num_of_vrings", Assert.Throws<ResourceTableException>(() => writer.SetVringAddress(reshaped, vdev, 1, 1, 1)).Field);
        Assert.Equal(ResourceTable.AddrAny, BinaryPrimitives.ReadUInt32LittleEndian(reshaped.AsSpan(vdev.Vrings[1].Offset)));
    }

    [Fact]
    public void Write_EntryFromOtherTableOrShortTarget_Throws()
    {
        byte[] bytes = AnyAddressTable();
        var writer = new ResourceTableWriter(ResourceTable.Parse(bytes));
        var foreign = ResourceTable.Parse(bytes).GetRpmsgVdev();
        Assert.Throws<ArgumentException>(() => writer.WriteStatus(bytes, foreign, 1));

        var own = writer.Table.GetRpmsgVdev();
        Assert.Throws<ArgumentException>(() => writer.WriteStatus(bytes.AsSpan(0, bytes.Length - 1), own, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.SetVringAddress(bytes, own, 2, 0, 0));
    }
}
