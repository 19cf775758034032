using System.Buffers.Binary;
using System.Text;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A parsed little-endian ELF32 or ELF64 firmware image (a private copy of the file). The header,
/// every program header table entry and every section header are bounds-checked with
/// overflow-proof arithmetic; loadable segments are checked for filesz &lt;= memsz, a file range
/// inside the file, an address range that does not wrap and no overlap with another PT_LOAD.
/// Any violation is an <see cref="ElfFormatException"/> naming the field and value.
/// </summary>
public sealed class ElfImage
{
    /// <summary>Name of the section that carries the remoteproc resource table.</summary>
    public const string ResourceTableSectionName = ".resource_table";

    private const uint ShtStrtab = 3;
    private const ushort PnXnum = 0xFFFF;

    private readonly byte[] _file;

    private ElfImage(byte[] file, ElfClass elfClass, ushort type, ushort machine, ulong entry,
        IReadOnlyList<ElfSegment> segments, IReadOnlyList<ElfSection> sections)
    {
        _file = file;
        Class = elfClass;
        Type = type;
        Machine = machine;
        Entry = entry;
        Segments = segments;
        Sections = sections;
    }

    /// <summary>Whether the image is 32- or 64-bit, from <c>e_ident[EI_CLASS]</c>.</summary>
    public ElfClass Class { get; }

    /// <summary>e_type (2 = executable).</summary>
    public ushort Type { get; }

    /// <summary>e_machine (40 = ARM, 183 = AArch64, 243 = RISC-V).</summary>
    public ushort Machine { get; }

    /// <summary>e_entry.</summary>
    public ulong Entry { get; }

    /// <summary>Size of the file in bytes.</summary>
    public int FileLength => _file.Length;

    /// <summary>All program headers, in file order.</summary>
    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>The PT_LOAD program headers, in file order.</summary>
    public IEnumerable<ElfSegment> LoadSegments => Segments.Where(s => s.IsLoad);

    /// <summary>All section headers (index 0 is the null section), names resolved.</summary>
    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>The first section named <paramref name="name"/>, or null.</summary>
    public ElfSection? FindSection(string name) => Sections.FirstOrDefault(s => s.Name == name);

    /// <summary>The <c>.resource_table</c> section, or null when the image has none.</summary>
    public ElfSection? ResourceTableSection => FindSection(ResourceTableSectionName);

    /// <summary>The file bytes of a section (empty for NOBITS); its range was checked at parse time.</summary>
    public ReadOnlySpan<byte> GetSectionData(ElfSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        if ((uint)section.Index >= (uint)Sections.Count || !ReferenceEquals(Sections[section.Index], section))
            throw new ArgumentException($"Section {section.Index} '{section.Name}' does not belong to this image.", nameof(section));
        return section.HasFileData ? _file.AsSpan((int)section.FileOffset, (int)section.Size) : default;
    }

    /// <summary>The p_filesz bytes of a segment from the file; its range was checked at parse time for PT_LOAD.</summary>
    public ReadOnlySpan<byte> GetSegmentData(ElfSegment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if ((uint)segment.Index >= (uint)Segments.Count || !ReferenceEquals(Segments[segment.Index], segment) || !segment.IsLoad)
            throw new ArgumentException($"Segment {segment.Index} is not a loadable segment of this image.", nameof(segment));
        return _file.AsSpan((int)segment.FileOffset, (int)segment.FileSize);
    }

    /// <summary>The raw bytes of <c>.resource_table</c>; throws <see cref="ElfFormatException"/> if there is none.</summary>
    public ReadOnlySpan<byte> GetResourceTableBytes()
    {
        var section = ResourceTableSection
            ?? throw new ElfFormatException("section " + ResourceTableSectionName, -1, 0, "the image has no resource table section");
        if (!section.HasFileData)
            throw new ElfFormatException("sh_type", section.Index, section.Type, $"section {ResourceTableSectionName} has no file contents");
        return GetSectionData(section);
    }

    /// <summary>Parses the resource table as stored in the file (see <see cref="ResourceTable.Parse"/>).</summary>
    public ResourceTable ReadResourceTable() => ResourceTable.Parse(GetResourceTableBytes());

    /// <summary>Reads and parses an ELF file.</summary>
    public static ElfImage Load(string path) => ParseCopy(File.ReadAllBytes(path));

    /// <summary>Copies <paramref name="file"/> once and parses the copy.</summary>
    public static ElfImage Parse(ReadOnlySpan<byte> file) => ParseCopy(file.ToArray());

    private static ElfImage ParseCopy(byte[] f)
    {
        ulong length = (ulong)f.Length;
        if (length < 16)
            throw new ElfFormatException("e_ident", -1, length, "file is shorter than the 16-byte identification");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(f);
        if (magic != 0x7F454C46)
            throw new ElfFormatException("e_ident[EI_MAG]", -1, magic, "not an ELF file (expected 7F 'E' 'L' 'F')");
        byte cls = f[4];
        if (cls is not ((byte)ElfClass.Elf32 or (byte)ElfClass.Elf64))
            throw new ElfFormatException("e_ident[EI_CLASS]", -1, cls, "expected 1 (ELF32) or 2 (ELF64)");
        if (f[5] != 1)
            throw new ElfFormatException("e_ident[EI_DATA]", -1, f[5], "only little-endian (1) images are supported");
        if (f[6] != 1)
            throw new ElfFormatException("e_ident[EI_VERSION]", -1, f[6], "expected 1");
        var r = new Reader(f, cls == (byte)ElfClass.Elf64);
        ulong headerSize = r.Is64 ? 64UL : 52UL;
        if (length < headerSize)
            throw new ElfFormatException("e_ehsize", -1, length, $"file is shorter than the {headerSize}-byte ELF header");

        ushort type = r.U16(16);
        ushort machine = r.U16(18);
        uint version = r.U32(20);
        if (version != 1)
            throw new ElfFormatException("e_version", -1, version, "expected 1");
        ulong entry = r.Word(24);
        int b = r.Is64 ? 32 : 28; // e_phoff
        ulong phoff = r.Word(b);
        ulong shoff = r.Word(b + r.WordSize);
        int h = b + 2 * r.WordSize + 4; // e_ehsize
        ushort phentsize = r.U16(h + 2), phnum = r.U16(h + 4), shentsize = r.U16(h + 6), shnum = r.U16(h + 8), shstrndx = r.U16(h + 10);

        var segments = ParseSegments(r, phoff, phentsize, phnum);
        var sections = ParseSections(r, shoff, shentsize, shnum, shstrndx);
        return new ElfImage(f, (ElfClass)cls, type, machine, entry, segments, sections);
    }

    private static ElfSegment[] ParseSegments(Reader r, ulong phoff, ushort phentsize, ushort phnum)
    {
        if (phnum == 0)
            return [];
        if (phnum == PnXnum)
            throw new ElfFormatException("e_phnum", -1, phnum, "extended program header numbering (PN_XNUM) is not supported");
        ulong entrySize = r.Is64 ? 56UL : 32UL;
        if (phentsize < entrySize)
            throw new ElfFormatException("e_phentsize", -1, phentsize, $"smaller than a {entrySize}-byte program header");
        CheckTable(r, "e_phoff", "e_phnum", phoff, phentsize, phnum);

        var segments = new ElfSegment[phnum];
        for (int i = 0; i < phnum; i++)
        {
            int o = (int)(phoff + (ulong)i * phentsize);
            segments[i] = r.Is64
                ? new ElfSegment(i, r.U32(o), r.U32(o + 4), r.U64(o + 8), r.U64(o + 16), r.U64(o + 24), r.U64(o + 32), r.U64(o + 40), r.U64(o + 48))
                : new ElfSegment(i, r.U32(o), r.U32(o + 24), r.U32(o + 4), r.U32(o + 8), r.U32(o + 12), r.U32(o + 16), r.U32(o + 20), r.U32(o + 28));
            if (segments[i].IsLoad)
                CheckLoadSegment(r, segments[i]);
        }
        CheckNoOverlap(segments);
        return segments;
    }

    private static void CheckLoadSegment(Reader r, ElfSegment s)
    {
        ulong length = (ulong)r.File.Length;
        if (s.FileSize > s.MemorySize)
            throw new ElfFormatException("p_filesz", s.Index, s.FileSize, $"larger than p_memsz 0x{s.MemorySize:X}");
        if (s.FileOffset > length)
            throw new ElfFormatException("p_offset", s.Index, s.FileOffset, $"past the end of the {length}-byte file");
        if (s.FileSize > length - s.FileOffset)
            throw new ElfFormatException("p_filesz", s.Index, s.FileSize, $"segment data at 0x{s.FileOffset:X} runs past the end of the {length}-byte file");
        // An ELF32 segment must end within the 32-bit address space; an ELF64 one within 2^64.
        bool fits = r.Is64
            ? AddressRange.FitsInAddressSpace(s.PhysicalAddress, s.MemorySize)
            : s.PhysicalAddress + s.MemorySize <= 1UL << 32;
        if (!fits)
            throw new ElfFormatException("p_memsz", s.Index, s.MemorySize, $"segment at p_paddr 0x{s.PhysicalAddress:X} wraps past the end of the address space");
    }

    private static void CheckNoOverlap(ElfSegment[] segments)
    {
        var loads = segments.Where(s => s.IsLoad && s.MemorySize > 0).OrderBy(s => s.PhysicalAddress).ToArray();
        for (int k = 1; k < loads.Length; k++)
        {
            var prev = loads[k - 1];
            // prev's range does not wrap (checked), so its last byte is representable.
            if (loads[k].PhysicalAddress <= prev.PhysicalAddress + (prev.MemorySize - 1))
                throw new ElfFormatException("p_paddr", loads[k].Index, loads[k].PhysicalAddress,
                    $"segment overlaps segment {prev.Index} at [0x{prev.PhysicalAddress:X}, +0x{prev.MemorySize:X})");
        }
    }

    private static ElfSection[] ParseSections(Reader r, ulong shoff, ushort shentsize, ushort shnum, ushort shstrndx)
    {
        // shnum == 0: no section header table (extended numbering is not used by firmware images).
        if (shnum == 0)
            return [];
        ulong entrySize = r.Is64 ? 64UL : 40UL;
        if (shentsize < entrySize)
            throw new ElfFormatException("e_shentsize", -1, shentsize, $"smaller than a {entrySize}-byte section header");
        CheckTable(r, "e_shoff", "e_shnum", shoff, shentsize, shnum);
        if (shstrndx >= shnum)
            throw new ElfFormatException("e_shstrndx", -1, shstrndx, $"not below e_shnum {shnum}");

        ulong length = (ulong)r.File.Length;
        var raw = new (uint Name, uint Type, ulong Flags, ulong Addr, ulong Offset, ulong Size)[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int o = (int)(shoff + (ulong)i * shentsize);
            raw[i] = r.Is64
                ? (r.U32(o), r.U32(o + 4), r.U64(o + 8), r.U64(o + 16), r.U64(o + 24), r.U64(o + 32))
                : (r.U32(o), r.U32(o + 4), r.U32(o + 8), r.U32(o + 12), r.U32(o + 16), r.U32(o + 20));
            bool hasData = raw[i].Type is not (0 or ElfSection.ShtNobits);
            if (hasData && raw[i].Offset > length)
                throw new ElfFormatException("sh_offset", i, raw[i].Offset, $"past the end of the {length}-byte file");
            if (hasData && raw[i].Size > length - raw[i].Offset)
                throw new ElfFormatException("sh_size", i, raw[i].Size, $"section data at 0x{raw[i].Offset:X} runs past the end of the {length}-byte file");
        }

        // Section 0 as string table (SHN_UNDEF) means the sections have no names.
        ReadOnlySpan<byte> names = default;
        if (shstrndx != 0)
        {
            var s = raw[shstrndx];
            if (s.Type != ShtStrtab)
                throw new ElfFormatException("sh_type", shstrndx, s.Type, "the section name table (e_shstrndx) is not a string table");
            names = r.File.AsSpan((int)s.Offset, (int)s.Size);
        }

        var sections = new ElfSection[shnum];
        for (int i = 0; i < shnum; i++)
        {
            string name = "";
            if (shstrndx != 0)
            {
                uint n = raw[i].Name;
                if (n >= (uint)names.Length)
                    throw new ElfFormatException("sh_name", i, n, $"outside the {names.Length}-byte section name table");
                int nul = names[(int)n..].IndexOf((byte)0);
                if (nul < 0)
                    throw new ElfFormatException("sh_name", i, n, "name is not NUL-terminated inside the section name table");
                name = Encoding.UTF8.GetString(names.Slice((int)n, nul));
            }
            sections[i] = new ElfSection(i, name, raw[i].Type, raw[i].Flags, raw[i].Addr, raw[i].Offset, raw[i].Size);
        }
        return sections;
    }

    private static void CheckTable(Reader r, string offsetField, string countField, ulong offset, ushort entrySize, ushort count)
    {
        ulong length = (ulong)r.File.Length;
        if (offset > length)
            throw new ElfFormatException(offsetField, -1, offset, $"past the end of the {length}-byte file");
        // count * entrySize < 2^32: no overflow in 64 bits; the subtraction cannot underflow.
        ulong tableSize = (ulong)count * entrySize;
        if (tableSize > length - offset)
            throw new ElfFormatException(countField, -1, count, $"{count} headers of {entrySize} bytes at 0x{offset:X} run past the end of the {length}-byte file");
    }

    /// <summary>Little-endian field reads at offsets already checked to be inside the file.</summary>
    private readonly struct Reader(byte[] file, bool is64)
    {
        public byte[] File { get; } = file;
        public bool Is64 { get; } = is64;
        public int WordSize => Is64 ? 8 : 4;
        public ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(File.AsSpan(o, 2));
        public uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(File.AsSpan(o, 4));
        public ulong U64(int o) => BinaryPrimitives.ReadUInt64LittleEndian(File.AsSpan(o, 8));
        public ulong Word(int o) => Is64 ? U64(o) : U32(o);
    }
}
