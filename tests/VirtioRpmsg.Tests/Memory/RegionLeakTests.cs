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
        // The counting helper would pass for an operation that does nothing; this shows a region really adds a mapping
        // and a descriptor, and that its dispose takes both away. The counts are the whole process's: an earlier test's
        // region unmapped in the background at the same moment hid the new mapping once (95 -> 95), so, as
        // AssertNoLeak does, one of three attempts must see the counts move.
        string failures = "";
        for (int attempt = 0; attempt < 3; attempt++)
        {
            string name = $"vrpmsg-test-{Guid.NewGuid():N}";
            var before = ProcessResources.Snapshot();
            ProcessResources during;
            bool listed;
            using (var region = SharedMemoryRegion.CreateMemFd(name, 4 * FakeUioDevice.PageSize, guardPages: true))
            {
                during = ProcessResources.Snapshot();
                listed = MapsMention(name);
            }
            var after = ProcessResources.Snapshot();
            Assert.True(listed, $"the region's memfd '{name}' is not in /proc/self/maps while mapped");
            Assert.False(MapsMention(name), $"the region's memfd '{name}' is still in /proc/self/maps after its dispose");
            if (during.Mappings > before.Mappings && during.Descriptors > before.Descriptors && after == before)
                return;
            failures += $" attempt {attempt}: {before} -> {during} -> {after};";
        }
        Assert.Fail("a memfd region should add a shared mapping and a descriptor, and its dispose remove them:" + failures);
    }

    private static bool MapsMention(string memfdName) =>
        File.ReadLines("/proc/self/maps").Any(line => line.Contains("/memfd:" + memfdName, StringComparison.Ordinal));

    [Fact]
    public void Dispose_LeaseOutlivesTheDrain_ReleasesTheDescriptorAndNeverMapsAgain()
    {
        var region = SharedMemoryRegion.CreateMemFd("vrpmsg-dispose", 4 * FakeUioDevice.PageSize);
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = Task.Run(() =>
        {
            using var lease = region.Acquire();
            holding.Set();
            Assert.True(release.Wait(TimeSpan.FromSeconds(30)), "the test never released the lease");
        });
        Assert.True(holding.Wait(TimeSpan.FromSeconds(30)), "the holder did not take its lease");

        Assert.Throws<TimeoutException>(() => region.Dispose(TimeSpan.FromMilliseconds(20)));
        // The descriptor is gone at once (no leak when the unmap has to wait); the memory stays mapped under the lease.
        Assert.True(region.Descriptor!.IsClosed);
        Assert.False(region.IsMapped);
        release.Set();
        Assert.True(holder.Wait(TimeSpan.FromSeconds(30)), "the holder did not end");

        // Disposed means disposed: the unmap can finish, but nothing maps the region again.
        region.Unmap();
        Assert.Throws<ObjectDisposedException>(region.Remap);
        region.Dispose();
        Assert.Throws<RegionClosedException>(() => region.Acquire());
    }
}
