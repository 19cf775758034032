using System.Buffers.Binary;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>A built test ELF plus where its headers are, so tests can corrupt single fields.</summary>
internal sealed record ElfTestImage(byte[] Bytes, bool Is64, int PhOff, int ShOff, int[] SegmentFileOffsets, int ShStrIndex, int SectionCount)
{
    public int PhEntSize => Is64 ? 56 : 32;
    public int ShEntSize => Is64 ? 64 : 40;

    // File-header field offsets for this class.
    public int EPhoffAt => Is64 ? 32 : 28;
    public int EShoffAt => Is64 ? 40 : 32;
    public int EPhentsizeAt => Is64 ? 54 : 42;
    public int EPhnumAt => Is64 ? 56 : 44;
    public int EShnumAt => Is64 ? 60 : 48;
    public int EShstrndxAt => Is64 ? 62 : 50;

    // Program-header field offsets relative to the entry.
    public int POffsetAt => Is64 ? 8 : 4;
    public int PPaddrAt => Is64 ? 24 : 12;
    public int PFileszAt => Is64 ? 32 : 16;
    public int PMemszAt => Is64 ? 40 : 20;

    public int Phdr(int index) => PhOff + index * PhEntSize;
    public int Shdr(int index) => ShOff + index * ShEntSize;

    public byte[] Copy() => (byte[])Bytes.Clone();

    /// <summary>Writes a class-sized word (u32 for ELF32, u64 for ELF64).</summary>
    public void PutWord(byte[] b, int offset, ulong value)
    {
        if (Is64)
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(offset), value);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), checked((uint)value));
    }

    public static void PutU16(byte[] b, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(offset), value);
    public static void PutU32(byte[] b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), value);
}
