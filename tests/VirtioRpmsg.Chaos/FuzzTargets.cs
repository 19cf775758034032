using System.Buffers.Binary;
using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Chaos;

/// <summary>
/// The body of every fuzz harness, shared by the SharpFuzz runner (tests/VirtioRpmsg.Fuzz) and the
/// bounded random-input tests. A target returns normally for any input a parser may see: documented
/// rejections are caught here; any other exception, or a broken invariant (<see cref="FuzzInvariantException"/>),
/// escapes and is a finding.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Runs <paramref name="target"/> on <paramref name="data"/>. True when the input was accepted, false when rejected as documented.</summary>
    public static bool Run(FuzzTarget target, ReadOnlySpan<byte> data) => target switch
    {
        FuzzTarget.ResourceTable => ResourceTableTarget(data),
        FuzzTarget.Elf => ElfTarget(data),
        FuzzTarget.NameService => NameServiceTarget(data),
        FuzzTarget.RpmsgHeader => RpmsgHeaderTarget(data),
        FuzzTarget.DescriptorChain => DescriptorChainTarget(data),
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, "unknown fuzz target"),
    };

    private static bool ResourceTableTarget(ReadOnlySpan<byte> data)
    {
        ResourceTable table;
        try
        {
            table = ResourceTable.Parse(data);
        }
        catch (ResourceTableException)
        {
            return false;
        }
        foreach (var entry in table.Entries)
            _ = entry.ToString();
        try
        {
            _ = table.GetRpmsgVdevs();
        }
        catch (ResourceTableException)
        {
        }
        CheckWriterRoundTrip(table);
        return true;
    }

    /// <summary>What the writer writes into a parsed table parses back: the same entries, the written values in place.</summary>
    private static void CheckWriterRoundTrip(ResourceTable table)
    {
        byte[] copy = table.ToArray();
        var writer = new ResourceTableWriter(table);
        foreach (var vdev in table.Vdevs)
        {
            for (int v = 0; v < vdev.Vrings.Count; v++)
                writer.SetVringAddress(copy, vdev, v, 0x1234_5670u + (uint)v, 0x7654_3210u + (uint)v);
            writer.SetGuestFeatures(copy, vdev, ~vdev.GuestFeatures);
            writer.WriteStatus(copy, vdev, (byte)~vdev.Status);
        }
        var again = ResourceTable.Parse(copy);
        Require(again.Entries.Count == table.Entries.Count, "the written table has a different number of entries");
        foreach (var (before, after) in table.Vdevs.Zip(again.Vdevs))
        {
            Require(after.Offset == before.Offset && after.Vrings.Count == before.Vrings.Count && after.ConfigLength == before.ConfigLength,
                $"vdev entry {before.Index} moved or changed shape when written");
            Require(after.GuestFeatures == ~before.GuestFeatures && after.Status == (byte)~before.Status, $"vdev entry {before.Index}: gfeatures/status not read back");
            for (int v = 0; v < before.Vrings.Count; v++)
            {
                var ring = after.Vrings[v];
                Require(ring.DeviceAddress == 0x1234_5670u + (uint)v && ring.PhysicalAddress == 0x7654_3210u + (uint)v
                    && ring.Num == before.Vrings[v].Num && ring.Align == before.Vrings[v].Align && ring.NotifyId == before.Vrings[v].NotifyId,
                    $"vdev entry {before.Index} vring {v}: da/pa not read back, or another field changed");
            }
        }
    }

    private static bool ElfTarget(ReadOnlySpan<byte> data)
    {
        try
        {
            var image = ElfImage.Parse(data);
            foreach (var segment in image.LoadSegments)
                _ = image.GetSegmentData(segment).Length;
            if (image.ResourceTableSection is { HasFileData: true })
                image.ReadResourceTable();
            // Load into a guarded region at device address 0 (the corpus seeds load at 0x1000): a stray write faults.
            using var region = SharedMemoryRegion.CreateAnonymous(ElfLoadRegionSize, 0, guardPages: true, name: "fuzz-firmware");
            var map = new AddressMap().Add(region);
            var located = FirmwareLoader.LocateResourceTable(image, map);
            var loaded = FirmwareLoader.Load(image, map);
            foreach (var p in loaded)
                Require(p.RegionOffset >= 0 && (ulong)p.RegionOffset + p.MemorySize <= ElfLoadRegionSize, $"segment {p.SegmentIndex} loaded outside the region");
            if (located is not null)
                Require(located.RegionOffset >= 0 && located.RegionOffset + located.Length <= ElfLoadRegionSize, "resource table located outside the region");
            return true;
        }
        catch (Exception e) when (e is ElfFormatException or ResourceTableException or FirmwareLoadException)
        {
            return false;
        }
    }

    private const int ElfLoadRegionSize = 0x10000;

    private static bool NameServiceTarget(ReadOnlySpan<byte> data)
    {
        if (!NameServiceMessage.TryParse(data, out var message, out var error))
        {
            Require(!string.IsNullOrEmpty(error), "a rejected name-service message must say why");
            return false;
        }
        Require(error is null, "an accepted name-service message has no error");
        Require(message.Name.Length > 0 && Encoding.UTF8.GetByteCount(message.Name) <= NameServiceMessage.MaxNameLength, $"accepted name '{message.Name}' is empty or longer than {NameServiceMessage.MaxNameLength} bytes");
        Require(!message.Name.Contains('\0'), "accepted name holds a NUL");
        Require(message.Address != RpmsgAddress.Any, "accepted ADDR_ANY");
        Require(message.Flags is NameServiceFlags.Create or NameServiceFlags.Destroy, $"accepted flags {message.Flags}");
        // What we accept we can write back, byte-identical in the fields we parsed.
        var copy = new byte[NameServiceMessage.Size];
        message.Write(copy);
        Require(NameServiceMessage.TryParse(copy, out var again, out _) && again == message, "an accepted message does not round-trip");
        return true;
    }

    /// <summary>
    /// Input: 4 bytes of used length, then the buffer contents (header and payload). The remote sends a real
    /// message, the bytes overwrite it, the host receives. The host must deliver it (exactly once) or count
    /// it as dropped or bad, and stay running.
    /// </summary>
    private static bool RpmsgHeaderTarget(ReadOnlySpan<byte> data)
    {
        if (data.Length >= RpmsgHeader.Size)
            _ = RpmsgHeader.Read(data[..RpmsgHeader.Size]);
        else
        {
            try
            {
                _ = RpmsgHeader.Read(data);
                throw new FuzzInvariantException($"RpmsgHeader.Read accepted {data.Length} bytes");
            }
            catch (RpmsgProtocolException)
            {
            }
        }
        using var bed = new ChaosBed(threadedHost: false, eventIndex: true, TimeSpan.FromSeconds(30));
        int delivered = 0;
        using var any = bed.Host.CreateEndpoint(0x600, (_, _, payload) =>
        {
            Require(payload.Length <= bed.Host.MaxPayload, $"delivered {payload.Length} bytes, more than a buffer holds");
            delivered++;
        });
        var before = bed.Host.Counters;
        bed.RemoteSend(0x600, [1, 2, 3, 4]);
        uint usedLength = data.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(data) % (ChaosBed.BufferSize + 1) : 20;
        var contents = data.Length > 4 ? data[4..] : [];
        if (contents.Length > ChaosBed.BufferSize)
            contents = contents[..ChaosBed.BufferSize];
        ushort used = bed.UsedIdx(0);
        var (id, _) = bed.UsedElement(0, used - 1);
        bed.WriteUsedElement(0, used - 1, id, usedLength);
        bed.WriteBytes(bed.LastRemoteMessageOffset(), contents);
        bed.PollHost();
        var after = bed.Host.Counters;
        Require(bed.Host.State == RpmsgDeviceState.Running, $"a message-level fault changed the host to {bed.Host.State}: {bed.Host.StateReason}");
        Require(after.RxMessages - before.RxMessages == 1, "the host did not receive exactly one message");
        long accounted = delivered + (after.Errors - before.Errors) + (after.Dropped - before.Dropped);
        // A name-service message, or one to another live endpoint, is delivered there, not to 0x600.
        Require(accounted <= 1, $"one message was counted {accounted} times");
        return accounted == 1 && delivered == 1;
    }

    /// <summary>
    /// Input: byte 0 picks num (1..64, rounded to a power of two), the rest is the ring (descriptor table
    /// and avail ring) as the driver would have written it. The device takes chains until none is left or
    /// the queue breaks; every chain it accepts must lie inside the buffer region.
    /// </summary>
    private static bool DescriptorChainTarget(ReadOnlySpan<byte> data)
    {
        int num = data.Length > 0 ? 1 << (data[0] % 7) : 1;
        var layout = new VringLayout(num, 64);
        const ulong bufferAddress = 0x10000;
        const long bufferSize = 0x2000;
        using var ringRegion = SharedMemoryRegion.CreateAnonymous(layout.TotalSize, 0x1000, guardPages: true, name: "fuzz-ring");
        using var bufferRegion = SharedMemoryRegion.CreateAnonymous(bufferSize, bufferAddress, guardPages: true, name: "fuzz-buffers");
        var rest = data.Length > 1 ? data[1..] : [];
        using (var lease = ringRegion.Acquire())
        {
            int n = (int)Math.Min(rest.Length, layout.UsedOffset);
            rest[..n].CopyTo(lease.GetSpan(0, n));
        }
        var device = new VirtqueueDevice("fuzz", new Vring(ringRegion.Bind(), 0, layout), new AddressMap().Add(bufferRegion), eventIndex: (data.Length & 1) == 0);
        int taken = 0;
        try
        {
            while (taken <= num && device.TryTakeAvailable(out var chain))
            {
                Require(chain.SegmentCount >= 1 && chain.SegmentCount <= num, $"a chain of {chain.SegmentCount} descriptors with num {num}");
                foreach (var s in chain.Segments)
                    Require(s.Region.Refers(bufferRegion) && s.Offset >= 0 && s.Offset + s.Length <= bufferSize, $"accepted segment {s} outside the buffer region");
                device.PushUsed(chain.Head, 0);
                taken++;
            }
            return taken > 0;
        }
        catch (VirtqueueBrokenException e)
        {
            Require(device.IsBroken && ReferenceEquals(e.Fault, device.Fault), "broken exception without a broken queue");
            return false;
        }
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
            throw new FuzzInvariantException(what);
    }
}

