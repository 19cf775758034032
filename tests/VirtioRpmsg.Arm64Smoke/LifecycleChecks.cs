using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>Resource table and firmware loading, end to end through shared memory.</summary>
public static class LifecycleChecks
{
    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Lifecycle: the OpenAMP resource table parses to one rpmsg vdev with two vrings", OpenAmpTable);
        yield return new("Lifecycle: a resource table of an unsupported version is rejected", BadVersion);
        yield return new("Lifecycle: ELF32 and ELF64 firmware load into a memfd; the resource table is read and written through a lease", LoadFirmware);
    }

    private static void OpenAmpTable()
    {
        var table = ResourceTable.Parse(ResourceTableBuilder.BuildOpenAmpLinux());
        var vdev = table.GetRpmsgVdev();
        Expect.Equal(2, vdev.Vrings.Count, "vrings");
        Expect.Equal(0x4000u, vdev.Vrings[0].DeviceAddress, "vring 0 device address");
        Expect.Equal(256u, vdev.Vrings[1].Num, "vring 1 size");
    }

    private static void BadVersion()
    {
        byte[] bytes = ResourceTableBuilder.BuildOpenAmpLinux();
        bytes[0] = 2; // version field, little-endian u32 at offset 0
        Expect.Throws<ResourceTableException>(() => ResourceTable.Parse(bytes), "table of version 2");
    }

    private static void LoadFirmware()
    {
        foreach (bool is64 in new[] { false, true })
        {
            var image = ElfImage.Parse(TestFirmware.Build(is64).Bytes);
            using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-smoke-fw", 0x2000, TestFirmware.CodeAddress);
            var map = new AddressMap().Add(region);
            FirmwareLoader.Load(image, map);
            var located = FirmwareLoader.LocateResourceTable(image, map) ?? throw new SmokeFailure("no resource table located");
            Expect.Equal(TestFirmware.TableAddress, located.DeviceAddress, "resource table device address");

            using var lease = region.Acquire();
            Expect.True(lease.GetReadOnlySpan(0, TestFirmware.Code.Length).SequenceEqual(TestFirmware.Code), "code bytes loaded");
            Expect.True(!lease.GetReadOnlySpan(TestFirmware.Code.Length, (int)TestFirmware.CodeMemorySize - TestFirmware.Code.Length).ContainsAnyExcept((byte)0), ".bss zero-filled");
            var table = ResourceTable.Read(lease, located.RegionOffset, located.Length);
            var vdev = table.GetRpmsgVdev();
            var writer = new ResourceTableWriter(table);
            writer.WriteStatus(lease, located.RegionOffset, vdev, 0x07);
            Expect.Equal((byte)0x07, writer.ReadStatus(lease, located.RegionOffset, vdev), $"vdev status (ELF{(is64 ? 64 : 32)})");
        }
    }
}
