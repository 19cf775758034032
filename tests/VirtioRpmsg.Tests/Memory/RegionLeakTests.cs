using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>No descriptor or mapping survives a failed open, or a full create/use/unmap/remap/dispose cycle.</summary>
[Collection(nameof(ResourceCountingCollection))]
public class RegionLeakTests
{
    [Theory]
    [MemberData(nameof(FailingOpens.Names), MemberType = typeof(FailingOpens))]
    public void Open_BadInput_LeaksNoDescriptorOrMapping(string kind)
    {
        using var files = new TestFiles();
        ProcessResources.AssertNoLeak(() => FailingOpens.Cases[kind](files));
    }

    [Theory]
    [MemberData(nameof(RegionFactories.Names), MemberType = typeof(RegionFactories))]
    public void CreateUseRemapDispose_EveryBacking_LeaksNoDescriptorOrMapping(string backing)
    {
        using var files = new TestFiles();
        ProcessResources.AssertNoLeak(() =>
        {
            var region = RegionFactories.All[backing](files, 3 * FakeUioDevice.PageSize);
            using (var lease = region.Acquire())
                lease.WriteUInt64(8, 0x0123_4567_89AB_CDEF);
            region.Unmap();
            region.Remap();
            using (var lease = region.Acquire())
            {
                // Anonymous memory has no backing to come back from; every other backing keeps its bytes.
                ulong expected = region.Backing == RegionBacking.Anonymous ? 0UL : 0x0123_4567_89AB_CDEFUL;
                Assert.Equal(expected, lease.ReadUInt64(8));
            }
            region.Dispose();
        });
    }

    [Fact]
    public void Dispose_Region_UnmapsItsMemory()
    {
        // The counting helper would pass for an operation that does nothing; this shows a region really adds a mapping.
        var before = ProcessResources.Snapshot();
        using (var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test", 4 * FakeUioDevice.PageSize, guardPages: true))
        {
            var during = ProcessResources.Snapshot();
            Assert.True(during.Mappings > before.Mappings, $"a mapped region should show in /proc/self/maps ({before.Mappings} -> {during.Mappings})");
            Assert.True(during.Descriptors > before.Descriptors, "a memfd region keeps its descriptor open");
        }
        Assert.Equal(before, ProcessResources.Snapshot());
    }
}
