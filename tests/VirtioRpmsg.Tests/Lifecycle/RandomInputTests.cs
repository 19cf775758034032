using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Seeded random mutations of valid tables and images: whatever the bytes, the parsers, the writer
/// and the loader only ever throw their documented exception types.
/// </summary>
public class RandomInputTests
{
    private const int Iterations = 20_000;

    private static readonly uint[] Interesting = [0, 1, 3, 4, 16, 20, 28, 52, 56, 64, 88, 0x7F, 0x80, 0xFF, 0x1FF, 0x200, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFC, 0xFFFF_FFFF];

    private static byte[] Mutate(Random rng, byte[] original)
    {
        var b = (byte[])original.Clone();
        int edits = rng.Next(1, 5);
        for (int e = 0; e < edits && b.Length > 0; e++)
        {
            switch (rng.Next(5))
            {
                case 0:
                    b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
                case 1:
                    b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 2 when b.Length >= 4:
                {
                    // A boundary value into a word-aligned field, where the headers keep their counts and offsets.
                    int at = rng.Next(b.Length / 4) * 4;
                    uint v = rng.Next(3) == 0 ? (uint)b.Length + (uint)rng.Next(-8, 9) : Interesting[rng.Next(Interesting.Length)];
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
                    break;
                }
                case 3 when b.Length >= 2:
                    BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(rng.Next(b.Length / 2) * 2), (ushort)Interesting[rng.Next(Interesting.Length)]);
                    break;
                default:
                    Array.Resize(ref b, rng.Next(b.Length + 1));
                    break;
            }
        }
        return b;
    }

    [Fact]
    public void ResourceTable_RandomMutations_OnlyResourceTableExceptions()
    {
        byte[][] seeds =
        [
            ResourceTableBuilder.BuildOpenAmpLinux(),
            new ResourceTableBuilder()
                .AddCarveout(0x1000, 0x2000, 0x3000, 0, "carve")
                .AddDevmem(0x4000, 0x4000, 0x100, 0, "dev")
                .AddTrace(0x5000, 0x100, "trace")
                .AddVendor(300, [1, 2, 3, 4])
                .AddVdev(7, 1, 1, 0, 0, [new VringSpec(ResourceTable.AddrAny, 0x1000, 16, 2, 0), new VringSpec(0x8000, 0x1000, 16, 3, 0)], [9, 9, 9, 9, 9, 9, 9, 9])
                .Build(),
        ];
        var rng = new Random(20261125);
        int parsed = 0, rejected = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = Mutate(rng, seeds[i % seeds.Length]);
            try
            {
                var table = ResourceTable.Parse(input);
                parsed++;
                // What a parsed table promises: every entry, vring and config space lies inside it.
                foreach (var entry in table.Entries)
                    Assert.InRange((ulong)(uint)entry.Offset + (ulong)(uint)entry.Size, 16UL, (ulong)table.Length);
                foreach (var vdev in table.Vdevs)
                    Assert.InRange((ulong)(uint)vdev.ConfigOffset + vdev.ConfigLength, 16UL, (ulong)table.Length);
                var writer = new ResourceTableWriter(table);
                foreach (var vdev in table.Vdevs)
                {
                    try
                    {
                        ResourceTable.ValidateRpmsgVdev(vdev);
                    }
                    catch (ResourceTableException)
                    {
                    }
                    for (int v = 0; v < vdev.Vrings.Count; v++)
                        writer.SetVringAddress(input, vdev, v, 0x1234, 0x5678);
                    writer.SetGuestFeatures(input, vdev, 1);
                    writer.WriteStatus(input, vdev, 7);
                    Assert.Equal(7, writer.ReadStatus(input, vdev));
                }
            }
            catch (ResourceTableException)
            {
                rejected++;
            }
        }
        // Both outcomes must actually occur, or the mutations test nothing.
        Assert.True(parsed > 100, $"only {parsed} mutated tables parsed");
        Assert.True(rejected > 100, $"only {rejected} mutated tables rejected");
    }

    [Fact]
    public void ElfImage_RandomMutations_OnlyDocumentedExceptions()
    {
        byte[][] seeds = [TestFirmware.Build(false).Bytes, TestFirmware.Build(true).Bytes];
        using var region = SharedMemoryRegion.CreateAnonymous(0x10000, TestFirmware.CodeAddress);
        var map = new AddressMap().Add(region);
        var rng = new Random(5);
        int loaded = 0, rejected = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = Mutate(rng, seeds[i % seeds.Length]);
            try
            {
                var image = ElfImage.Parse(input);
                if (image.ResourceTableSection is { HasFileData: true })
                    image.ReadResourceTable();
                FirmwareLoader.Load(image, map);
                FirmwareLoader.LocateResourceTable(image, map);
                loaded++;
            }
            catch (Exception e) when (e is ElfFormatException or ResourceTableException or FirmwareLoadException)
            {
                rejected++;
            }
        }
        Assert.True(loaded > 100, $"only {loaded} mutated images loaded");
        Assert.True(rejected > 100, $"only {rejected} mutated images rejected");
        Assert.Equal(0, region.LiveLeases);
    }
}
