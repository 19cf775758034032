using System.Reflection;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>An address map hands out generation-bound handles only: nothing translated before a remap can lease the new mapping.</summary>
public class AddressMapGenerationTests
{
    [Fact]
    public void Translate_BeforeRemap_HandleFailsWithStaleMappingAfterIt()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-map-gen", 0x2000, 0x1000_0000);
        var map = new AddressMap().Add(region);
        var (handle, offset) = map.Translate(0x1000_0100, 0x10);
        Assert.Equal((region.Generation, 0x100L), (handle.Generation, offset));

        region.Unmap();
        region.Remap();

        Assert.True(map.IsStale);
        Assert.False(handle.IsCurrent);
        Assert.Throws<StaleMappingException>(() =>
        {
            using var lease = handle.Acquire();
        });
        Assert.True(map.TryTranslate(0x1000_0100, 0x10, out var stillStale, out _));
        Assert.False(stillStale.TryAcquire(out _));
    }

    [Fact]
    public void Rebind_AfterRemap_BindsEveryRegionAtTheCurrentGeneration()
    {
        using var a = SharedMemoryRegion.CreateMemFd("vrpmsg-map-a", 0x1000, 0x1000_0000);
        using var b = SharedMemoryRegion.CreateMemFd("vrpmsg-map-b", 0x1000, 0x2000_0000);
        var map = new AddressMap().Add(b).Add(a);
        a.Unmap();
        a.Remap();

        var fresh = map.Rebind();

        Assert.False(fresh.IsStale);
        Assert.Equal([a, b], fresh.Regions.Select(h => h.Region));
        var (handle, _) = fresh.Translate(0x1000_0000, 0x1000);
        Assert.True(handle.IsCurrent);
        using var lease = handle.Acquire();
        lease.WriteUInt32(0, 0xFEED);
        Assert.True(map.IsStale, "the old map keeps its old generations");
    }

    [Fact]
    public void Add_DefaultHandle_Throws()
    {
        Assert.Throws<ArgumentException>(() => new AddressMap().Add(default(RegionHandle)));
    }

    [Fact]
    public void Translate_Handle_NamesTheRegionWithoutExposingIt()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-map-name", 0x1000, 0x3000_0000);
        using var other = SharedMemoryRegion.CreateMemFd("vrpmsg-map-other", 0x1000, 0x4000_0000);
        var (handle, _) = new AddressMap().Add(region).Add(other).Translate(0x3000_0010, 4);
        Assert.Equal((region.Name, 0x3000_0000ul, 0x1000L), (handle.Name, handle.DeviceAddress, handle.Size));
        Assert.Contains("vrpmsg-map-name", handle.Name, StringComparison.Ordinal);
        Assert.True(handle.Refers(region));
        Assert.False(handle.Refers(other));
    }

    [Theory]
    [InlineData(typeof(RegionHandle))]
    [InlineData(typeof(ChainSegment))]
    [InlineData(typeof(AddressMap))]
    public void PublicSurface_OfTranslationTypes_NeverReturnsABareRegion(Type type)
    {
        // A bare SharedMemoryRegion leases at whatever generation is current; everything reached
        // through translation must carry the generation it was built for.
        var leaks = type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m switch
            {
                PropertyInfo p => p.PropertyType == typeof(SharedMemoryRegion),
                MethodInfo mi => mi.ReturnType == typeof(SharedMemoryRegion)
                    || mi.GetParameters().Any(x => x.IsOut && x.ParameterType.GetElementType() == typeof(SharedMemoryRegion))
                    || (mi.ReturnType.IsGenericType && mi.ReturnType.GetGenericArguments().Contains(typeof(SharedMemoryRegion))),
                FieldInfo f => f.FieldType == typeof(SharedMemoryRegion),
                _ => false,
            })
            .Select(m => m.Name);
        Assert.Empty(leaks);
    }
}
