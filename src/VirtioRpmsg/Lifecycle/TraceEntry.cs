namespace VirtioRpmsg.Lifecycle;

/// <summary>A trace buffer the remote writes its log into: da, len, reserved, name[32].</summary>
public sealed record TraceEntry(int Index, int Offset, uint DeviceAddress, uint Length, string Name) : ResourceEntry(Index, Offset)
{
    /// <summary>Entry size in bytes: type word, three u32 fields, 32-byte name.</summary>
    public const int EntrySize = 48;

    /// <summary>Always <see cref="ResourceType.Trace"/> (2).</summary>
    public override uint TypeCode => (uint)ResourceType.Trace;

    /// <summary>Fixed size of a trace entry in bytes, type word included.</summary>
    public override int Size => EntrySize;
}
