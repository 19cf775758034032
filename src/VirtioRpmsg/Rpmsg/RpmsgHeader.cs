using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The 16-byte rpmsg message header: src (u32), dst (u32), reserved (u32), len (u16), flags (u16),
/// little-endian. Read once from shared memory into this private copy, then validated.
/// </summary>
/// <param name="Source">Sender's address (src).</param>
/// <param name="Destination">Recipient's address (dst).</param>
/// <param name="Reserved">The reserved word, carried as read.</param>
/// <param name="Length">Payload bytes that follow the header (len).</param>
/// <param name="Flags">The flags word, carried as read (unused by the protocol).</param>
public readonly record struct RpmsgHeader(uint Source, uint Destination, uint Reserved, ushort Length, ushort Flags)
{
    /// <summary>Size of the header on the wire.</summary>
    public const int Size = 16;

    /// <summary>Decodes a header from the first 16 bytes of <paramref name="source"/>.</summary>
    public static RpmsgHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
            ThrowTooShort(source.Length);
        return new RpmsgHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[12..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[14..]));
    }

    /// <summary>Encodes this header into the first 16 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
            ThrowNoRoom(destination.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Source);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Reserved);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], Flags);
    }

    // Out of line: the send and receive paths inline Read and Write, and would otherwise inline the message building.
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowTooShort(int length) =>
        throw new RpmsgProtocolException(FaultRule.HeaderTooShort, "header", (ulong)length, $"rpmsg header needs {Size} bytes, got {length}");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNoRoom(int length) =>
        throw new ArgumentOutOfRangeException("destination", length, $"rpmsg header needs {Size} bytes");
}
