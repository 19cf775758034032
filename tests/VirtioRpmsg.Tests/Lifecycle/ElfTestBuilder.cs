using System.Text;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Writes small little-endian ELF32/ELF64 images for tests: header, program headers, segment data,
/// extra section data, .shstrtab, then the section headers. Sections can point into a segment's
/// file data (like .resource_table in real firmware) or carry their own bytes.
/// </summary>
internal sealed class ElfTestBuilder(bool is64)
{
    private const uint ShtProgbits = 1, ShtStrtab = 3;

    private readonly List<(ulong Paddr, ulong Vaddr, byte[] Data, ulong Memsz)> _segments = [];
    private readonly List<(string Name, uint Type, ulong Addr, int Segment, int Offset, int Size, byte[]? Data)> _sections = [];

    public ElfTestBuilder AddSegment(ulong paddr, byte[] data, ulong memsz, ulong? vaddr = null)
    {
        _segments.Add((paddr, vaddr ?? paddr, data, memsz));
        return this;
    }

    /// <summary>A section whose bytes are bytes [offset, +size) of segment <paramref name="segment"/>'s file data.</summary>
    public ElfTestBuilder AddSectionInSegment(string name, int segment, int offset, int size)
    {
        var s = _segments[segment];
        _sections.Add((name, ShtProgbits, s.Vaddr + (ulong)offset, segment, offset, size, null));
        return this;
    }

    /// <summary>A section with its own bytes, not loaded.</summary>
    public ElfTestBuilder AddSection(string name, byte[] data)
    {
        _sections.Add((name, ShtProgbits, 0, -1, 0, data.Length, data));
        return this;
    }

    public ElfTestImage Build()
    {
        int ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32, shentsize = is64 ? 64 : 40;
        int phoff = ehsize;
        int pos = phoff + _segments.Count * phentsize;

        var segmentOffsets = new int[_segments.Count];
        for (int i = 0; i < _segments.Count; i++)
        {
            pos = Align8(pos);
            segmentOffsets[i] = pos;
            pos += _segments[i].Data.Length;
        }
        var ownDataOffsets = new int[_sections.Count];
        for (int i = 0; i < _sections.Count; i++)
        {
            if (_sections[i].Data is { } d)
            {
                ownDataOffsets[i] = pos;
                pos += d.Length;
            }
        }
        var names = new MemoryStream();
        names.WriteByte(0);
        var nameOffsets = new int[_sections.Count + 1];
        for (int i = 0; i <= _sections.Count; i++)
        {
            nameOffsets[i] = (int)names.Length;
            names.Write(Encoding.ASCII.GetBytes((i < _sections.Count ? _sections[i].Name : ".shstrtab") + "\0"));
        }
        int strtabOffset = pos;
        pos += (int)names.Length;
        int shoff = Align8(pos);
        int shnum = _sections.Count + 2; // null section, user sections, .shstrtab
        var image = new ElfTestImage(new byte[shoff + shnum * shentsize], is64, phoff, shoff, segmentOffsets, shnum - 1, shnum);
        byte[] b = image.Bytes;

        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = (byte)(is64 ? 2 : 1); b[5] = 1; b[6] = 1;
        ElfTestImage.PutU16(b, 16, 2);                   // ET_EXEC
        ElfTestImage.PutU16(b, 18, (ushort)(is64 ? 183 : 40)); // AArch64 / ARM
        ElfTestImage.PutU32(b, 20, 1);
        image.PutWord(b, 24, _segments.Count > 0 ? _segments[0].Vaddr : 0);
        image.PutWord(b, image.EPhoffAt, (ulong)phoff);
        image.PutWord(b, image.EShoffAt, (ulong)shoff);
        int h = image.EPhentsizeAt - 2;
        ElfTestImage.PutU16(b, h, (ushort)ehsize);
        ElfTestImage.PutU16(b, h + 2, (ushort)phentsize);
        ElfTestImage.PutU16(b, h + 4, (ushort)_segments.Count);
        ElfTestImage.PutU16(b, h + 6, (ushort)shentsize);
        ElfTestImage.PutU16(b, h + 8, (ushort)shnum);
        ElfTestImage.PutU16(b, h + 10, (ushort)(shnum - 1));

        for (int i = 0; i < _segments.Count; i++)
        {
            var s = _segments[i];
            int o = image.Phdr(i);
            ElfTestImage.PutU32(b, o, 1); // PT_LOAD
            image.PutWord(b, o + image.POffsetAt, (ulong)segmentOffsets[i]);
            image.PutWord(b, o + image.PPaddrAt - (is64 ? 8 : 4), s.Vaddr);
            image.PutWord(b, o + image.PPaddrAt, s.Paddr);
            image.PutWord(b, o + image.PFileszAt, (ulong)s.Data.Length);
            image.PutWord(b, o + image.PMemszAt, s.Memsz);
            ElfTestImage.PutU32(b, o + (is64 ? 4 : 24), 7); // RWX
            s.Data.CopyTo(b, segmentOffsets[i]);
        }
        for (int i = 0; i < _sections.Count; i++)
        {
            var s = _sections[i];
            int fileOffset = s.Data is { } d ? ownDataOffsets[i] : segmentOffsets[s.Segment] + s.Offset;
            s.Data?.CopyTo(b, fileOffset);
            PutSection(image, i + 1, nameOffsets[i], s.Type, s.Addr, fileOffset, s.Size);
        }
        names.ToArray().CopyTo(b, strtabOffset);
        PutSection(image, shnum - 1, nameOffsets[_sections.Count], ShtStrtab, 0, strtabOffset, (int)names.Length);
        return image;
    }

    private static void PutSection(ElfTestImage image, int index, int name, uint type, ulong addr, int offset, int size)
    {
        byte[] b = image.Bytes;
        int o = image.Shdr(index);
        ElfTestImage.PutU32(b, o, (uint)name);
        ElfTestImage.PutU32(b, o + 4, type);
        int w = image.Is64 ? 8 : 4;
        // sh_flags, sh_addr, sh_offset, sh_size follow as class-sized words.
        image.PutWord(b, o + 8 + w, addr);
        image.PutWord(b, o + 8 + 2 * w, (ulong)offset);
        image.PutWord(b, o + 8 + 3 * w, (ulong)size);
    }

    private static int Align8(int n) => (n + 7) & ~7;
}
