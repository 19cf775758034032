using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A userspace remoteproc loader: copies each PT_LOAD segment of an <see cref="ElfImage"/> to its
/// physical address (p_paddr) through an <see cref="AddressMap"/>, zero-filling p_memsz - p_filesz.
/// Every segment is translated before anything is written, so a firmware that does not fit leaves
/// memory untouched.
/// </summary>
public static class FirmwareLoader
{
    // Bytes copied under one lease: bounds how long an unmap can be held up by a load.
    private const int ChunkSize = 1 << 20;

    /// <summary>
    /// Loads every PT_LOAD segment; throws <see cref="FirmwareLoadException"/> if one is not wholly inside one
    /// region, and <see cref="ElfFormatException"/> (naming <c>e_phnum</c>) if the image has no PT_LOAD with
    /// p_memsz &gt; 0: nothing would be loaded, and the remote would run whatever the memory still holds.
    /// </summary>
    public static IReadOnlyList<LoadedSegment> Load(ElfImage image, AddressMap map)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(map);
        var plan = new List<LoadedSegment>();
        foreach (var s in image.LoadSegments)
        {
            if (s.MemorySize == 0)
                continue;
            if (!map.TryTranslate(s.PhysicalAddress, s.MemorySize, out var region, out long offset))
                throw new FirmwareLoadException($"segment {s.Index}", s.PhysicalAddress, s.MemorySize, "is not wholly inside one region of the address map");
            plan.Add(new LoadedSegment(s.Index, s.PhysicalAddress, region, offset, s.FileSize, s.MemorySize));
        }
        if (plan.Count == 0)
            throw new ElfFormatException("e_phnum", -1, (ulong)image.Segments.Count, "the image has no loadable segment (PT_LOAD with p_memsz > 0): nothing would be loaded");
        foreach (var p in plan)
            Copy(image.GetSegmentData(image.Segments[p.SegmentIndex]), p);
        return plan;
    }

    private static void Copy(ReadOnlySpan<byte> data, LoadedSegment p)
    {
        // MemorySize fits the region (translated), and a region's size is a long.
        long total = (long)p.MemorySize;
        for (long done = 0; done < total;)
        {
            int n = (int)Math.Min(ChunkSize, total - done);
            using var lease = p.Region.Acquire();
            long at = p.RegionOffset + done;
            // File bytes first, then zeros for the rest of p_memsz (.bss); through the lease, so that
            // target memory that is Device memory gets only aligned stores.
            int fromFile = done < data.Length ? (int)Math.Min(n, data.Length - done) : 0;
            if (fromFile > 0)
                lease.WriteBytes(at, data.Slice((int)done, fromFile));
            lease.Clear(at + fromFile, n - fromFile);
            done += n;
        }
    }

    /// <summary>
    /// Finds where the image's <c>.resource_table</c> lands in memory: the PT_LOAD segment whose file
    /// bytes contain the section's file bytes decides the device address (so the loaded bytes are
    /// exactly the section's bytes). Null when the image has no such section.
    /// </summary>
    public static LoadedResourceTable? LocateResourceTable(ElfImage image, AddressMap map)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(map);
        var section = image.ResourceTableSection;
        if (section is null)
            return null;
        if (!section.HasFileData)
            throw new ElfFormatException("sh_type", section.Index, section.Type, $"section {ElfImage.ResourceTableSectionName} has no file contents");
        if (section.Size == 0)
            throw new ElfFormatException("sh_size", section.Index, section.Size, $"section {ElfImage.ResourceTableSectionName} is empty");
        // File ranges were checked at parse time: offset + size cannot overflow.
        var segment = image.LoadSegments.FirstOrDefault(s =>
            section.FileOffset >= s.FileOffset && section.FileOffset + section.Size <= s.FileOffset + s.FileSize);
        if (segment is null)
            throw new FirmwareLoadException($"section {ElfImage.ResourceTableSectionName}", section.Address, section.Size, "is not inside the file data of any loadable segment");
        ulong deviceAddress = segment.PhysicalAddress + (section.FileOffset - segment.FileOffset);
        if (!map.TryTranslate(deviceAddress, section.Size, out var region, out long offset))
            throw new FirmwareLoadException($"section {ElfImage.ResourceTableSectionName}", deviceAddress, section.Size, "is not wholly inside one region of the address map");
        return new LoadedResourceTable(deviceAddress, (int)section.Size, region, offset);
    }
}
