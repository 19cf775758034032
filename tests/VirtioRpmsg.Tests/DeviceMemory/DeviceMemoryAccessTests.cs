using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Memory;
using VirtioRpmsg.Tests.Virtio;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>
/// The Device-memory rules (issue 14 item 1): on Device memory every access is naturally aligned and at
/// most 8 bytes wide, copies and fills included, and the used ring (at 4 mod 8) is accessed as 32-bit words.
/// </summary>
public class DeviceMemoryAccessTests
{
    [Fact]
    public void UsedElement_OnDeviceMemory_IsTwoAligned32BitAccessesNeverOne64BitAtFourModEight()
    {
        using var scope = DeviceMemoryScope.Enter(keepLog: true);
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();

        for (int i = 0; i < 3; i++)
            Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 64, deviceWritable: true, token: i));
        driver.KickPrepare();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            device.PushUsed(chain.Head, (uint)(10 + i));
        }
        for (int i = 0; i < 3; i++)
        {
            Assert.True(driver.TryGetUsed(out int token, out uint length));
            Assert.Equal(i, token);
            Assert.Equal((uint)(10 + i), length);
        }

        // used.ring[i] = { id, len } at UsedOffset + 4 + 8i: each field one 4-byte access, written and read.
        long usedRing = bed.Layout.UsedOffset + 4;
        var ring = scope.Checker.Log.Where(a => a.Region == "test-ring" && a.Offset >= usedRing && a.Offset < usedRing + 8L * 8).ToList();
        // (Ring set-up clears the used ring with aligned 8-byte stores; elements are never read 8 bytes at a time.)
        Assert.DoesNotContain(ring, a => a.Width == 8 && !a.Write);
        Assert.DoesNotContain(ring, a => a.Width == 8 && a.Offset % 8 != 0);
        for (int i = 0; i < 3; i++)
        {
            Assert.Contains(ring, a => a.Offset == usedRing + 8L * i && a.Width == 4 && a.Write);
            Assert.Contains(ring, a => a.Offset == usedRing + 8L * i + 4 && a.Width == 4 && a.Write);
            Assert.Contains(ring, a => a.Offset == usedRing + 8L * i && a.Width == 4 && !a.Write);
            Assert.Contains(ring, a => a.Offset == usedRing + 8L * i + 4 && a.Width == 4 && !a.Write);
        }
        Assert.Equal(0, scope.Checker.ViolationCount);
    }

    [Fact]
    public void CopiesAndFills_AnyOffsetAndLength_SameBytesAsNormalMemoryWithOnlyAlignedAccesses()
    {
        using var normal = SharedMemoryRegion.CreateAnonymous(4096, name: "normal");
        using var scope = DeviceMemoryScope.Enter();
        using var device = SharedMemoryRegion.CreateAnonymous(4096, name: "device");
        var random = new Random(14);
        var data = new byte[600];
        for (int round = 0; round < 300; round++)
        {
            int offset = random.Next(0, 3000), length = random.Next(0, 600);
            random.NextBytes(data);
            byte fill = (byte)random.Next(256);
            int fillOffset = random.Next(0, 3000), fillLength = random.Next(0, 600);
            foreach (var region in new[] { normal, device })
            {
                using var lease = region.Acquire();
                lease.WriteBytes(offset, data.AsSpan(0, length));
                lease.Fill(fillOffset, fillLength, fill);
            }
            using var a = normal.Acquire();
            using var b = device.Acquire();
            Assert.Equal(SharedBytes.Read(a, 0, 4096), SharedBytes.Read(b, 0, 4096));
            int readOffset = random.Next(0, 4000);
            Assert.Equal(SharedBytes.Read(a, readOffset, 4096 - readOffset), SharedBytes.Read(b, readOffset, 4096 - readOffset));
        }
        // Bulk bytes move in 8-byte words; heads and tails in narrower aligned pieces; nothing wider.
        Assert.True(scope.Checker.AccessesOfWidth(8) > scope.Checker.AccessesOfWidth(1), "bulk copies should be 8-byte words");
        Assert.Equal(0, scope.Checker.ViolationCount);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(4, 8)]
    [InlineData(6, 8)]
    public void MisalignedAccessor_InCheckingMode_FailsNamingOffsetAndWidth(long offset, int width)
    {
        var scope = DeviceMemoryScope.Enter();
        using (var region = SharedMemoryRegion.CreateAnonymous(4096, name: "strict"))
        {
            using var lease = region.Acquire();
            var e = Assert.Throws<DeviceMemoryAccessException>(() =>
            {
                using var inner = region.Acquire();
                _ = width switch { 2 => inner.ReadUInt16(offset), 4 => inner.ReadUInt32(offset), _ => inner.ReadUInt64(offset) };
            });
            Assert.Contains($"accessor of {width} bytes called at offset 0x{offset:X}", e.Message);
            Assert.Contains("'strict'", e.Message);
        }
        Assert.Equal(1, scope.Checker.ViolationCount);
        Assert.Throws<DeviceMemoryAccessException>(scope.Dispose);
    }

    [Fact]
    public void RawSpan_InCheckingMode_Fails()
    {
        var scope = DeviceMemoryScope.Enter();
        using (var region = SharedMemoryRegion.CreateAnonymous(4096, name: "strict"))
        {
            var e = Assert.Throws<DeviceMemoryAccessException>(() =>
            {
                using var lease = region.Acquire();
                lease.GetSpan(8, 16).Clear();
            });
            Assert.Contains("raw span of 16 bytes at offset 0x8", e.Message);
        }
        Assert.Throws<DeviceMemoryAccessException>(scope.Dispose);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void MisalignedAccessor_OnDeviceMemory_IsSplitAndReadsTheSameValue(long offset)
    {
        using var region = SharedMemoryRegion.CreateAnonymous(64, memoryType: SharedMemoryType.Device);
        using var lease = region.Acquire();
        Assert.True(lease.IsDeviceMemory);
        lease.WriteUInt64(offset, 0x0102_0304_0506_0708);
        lease.WriteUInt32(offset + 8, 0x1122_3344);
        lease.WriteUInt16(offset + 12, 0xA5B6);
        Assert.Equal(0x0102_0304_0506_0708UL, lease.ReadUInt64(offset));
        Assert.Equal(0x1122_3344u, lease.ReadUInt32(offset + 8));
        Assert.Equal((ushort)0xA5B6, lease.ReadUInt16(offset + 12));
        Assert.Equal((byte)0x08, lease.ReadByte(offset)); // little-endian, byte by byte as on the wire
        Assert.Equal((byte)0x01, lease.ReadByte(offset + 7));
    }

    [Theory]
    [MemberData(nameof(RegionFactories.Names), MemberType = typeof(RegionFactories))]
    public void MemoryType_ByBacking_UioAndDevMemAreDeviceTheRestNormal(string kind)
    {
        using var files = new TestFiles();
        using var region = RegionFactories.All[kind](files, 0x2000);
        var expected = kind is "uio" or "devmem" ? SharedMemoryType.Device : SharedMemoryType.Normal;
        Assert.Equal(expected, region.MemoryType);
        Assert.Equal(BarrierDomain.InnerShareable, region.Barriers);
        using var lease = region.Acquire();
        Assert.Equal(expected == SharedMemoryType.Device, lease.IsDeviceMemory);
    }

    [Fact]
    public void MemoryType_Declared_OverridesTheBackingDefault()
    {
        using var files = new TestFiles();
        using var memfd = SharedMemoryRegion.CreateMemFd("vrpmsg-test-device", 4096, memoryType: SharedMemoryType.Device);
        using var devMem = SharedMemoryRegion.OpenDevMem(0x1000, 4096, devMemPath: files.CreateFile("fake-mem", 0x2000), memoryType: SharedMemoryType.Normal);
        Assert.Equal(SharedMemoryType.Device, memfd.MemoryType);
        Assert.Equal(SharedMemoryType.Normal, devMem.MemoryType);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.CreateAnonymous(4096, memoryType: (SharedMemoryType)7));
        Assert.Equal("memoryType", e.ParamName);
    }
}
