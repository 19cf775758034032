using System.Buffers.Binary;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// The 12-byte header in front of every vhost-user message: request (u32), flags (u32: version in bits 0-1,
/// REPLY bit 2, NEED_REPLY bit 3), payload size (u32), all little-endian.
/// </summary>
internal readonly record struct VhostUserHeader(uint Request, uint Flags, uint Size)
{
    /// <summary>Header size in bytes.</summary>
    public const int Length = 12;

    /// <summary>The only protocol version (flags bits 0-1).</summary>
    public const uint Version = 1;

    /// <summary>Flags bit 2: this message is a reply.</summary>
    public const uint ReplyFlag = 1u << 2;

    /// <summary>Flags bit 3: the sender wants a REPLY_ACK status.</summary>
    public const uint NeedReplyFlag = 1u << 3;

    /// <summary>Largest payload any implemented request has (the memory table: 8 + 8 x 32 bytes); anything larger is refused before it is read.</summary>
    public const int MaxPayload = 8 + VhostUserMemoryRegion.MaxRegions * VhostUserMemoryRegion.Length;

    /// <summary>True when the front-end asked for a REPLY_ACK status.</summary>
    public bool NeedsReply => (Flags & NeedReplyFlag) != 0;

    /// <summary>Reads and checks a front-end request header: version 1, no REPLY bit, no reserved bits, size at most <see cref="MaxPayload"/>.</summary>
    /// <exception cref="VhostUserProtocolException">The header breaks one of those rules (the message names the field and value).</exception>
    public static VhostUserHeader Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Length)
            throw new VhostUserProtocolException(FaultRule.VhostUserHeader, "header", (ulong)bytes.Length, $"vhost-user header is {bytes.Length} bytes, expected {Length}");
        var header = new VhostUserHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
        if ((header.Flags & 3) != Version)
            throw new VhostUserProtocolException(FaultRule.VhostUserHeader, "flags.version", header.Flags & 3, $"vhost-user request {header.Request}: version {header.Flags & 3}, expected {Version}");
        if ((header.Flags & ~(3u | NeedReplyFlag)) != 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserHeader, "flags", header.Flags, $"vhost-user request {header.Request}: flags 0x{header.Flags:X} set the REPLY bit or reserved bits");
        if (header.Size > MaxPayload)
            throw new VhostUserProtocolException(FaultRule.VhostUserPayloadSize, "size", header.Size, $"vhost-user request {header.Request}: payload of {header.Size} bytes is larger than any request allows ({MaxPayload})");
        return header;
    }

    /// <summary>Writes a reply header for <paramref name="request"/> with <paramref name="size"/> payload bytes.</summary>
    public static void WriteReply(Span<byte> destination, uint request, uint size)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, request);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Version | ReplyFlag);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], size);
    }
}
