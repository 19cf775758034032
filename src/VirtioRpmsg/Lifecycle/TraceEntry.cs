namespace VirtioRpmsg.Lifecycle;

/// <summary>A trace buffer the remote writes its log into: da, len, reserved, name[32].</summary>
/// <param name="Index">Position of the entry in the table's offset array.</param>
/// <param name="Offset">Byte offset of the entry (its type word) from the table start.</param>
/// <param name="DeviceAddress">da: where the remote writes the trace buffer.</param>
/// <param name="Length">len of the buffer in bytes.</param>
/// <param name="Name">name, up to 31 characters.</param>
public sealed record TraceEntry(int Index, int Offset, uint DeviceAddress, uint Length, string Name) : ResourceEntry(Index, Offset)
{
    /// <summary>Entry size in bytes: type word, three u32 fields, 32-byte name.</summary>
    public const int EntrySize = 48;

    /// <summary>Always <see cref="ResourceType.Trace"/> (2).</summary>
    public override uint TypeCode => (uint)ResourceType.Trace;

    /// <summary>Fixed size of a trace entry in bytes, type word included.</summary>
    public override int Size => EntrySize;
}
