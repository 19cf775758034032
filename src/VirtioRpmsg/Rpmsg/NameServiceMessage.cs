using System.Buffers.Binary;
using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace VirtioRpmsg.Rpmsg;

/// <summary>Name-service operation: announce (create) or withdraw (destroy) a named endpoint.</summary>
public enum NameServiceFlags : uint
{
    /// <summary>A service appeared at <see cref="NameServiceMessage.Address"/>.</summary>
    Create = 0,
    /// <summary>The service at <see cref="NameServiceMessage.Address"/> went away.</summary>
    Destroy = 1,
}

/// <summary>
/// The 40-byte name-service message sent to address 53: name (32 bytes, NUL-padded), addr (u32), flags (u32).
/// </summary>
/// <param name="Name">Service name, 1 to 31 UTF-8 bytes.</param>
/// <param name="Address">Address of the endpoint that offers (or withdrew) the service.</param>
/// <param name="Flags">Whether the service is created or destroyed.</param>
public readonly record struct NameServiceMessage(string Name, uint Address, NameServiceFlags Flags)
{
    /// <summary>Size on the wire.</summary>
    public const int Size = 40;

    /// <summary>Longest name: the field is 32 bytes and must keep a NUL terminator.</summary>
    public const int MaxNameLength = 31;

    /// <summary>
    /// Decodes and validates a message received from the peer. Returns false with a reason (naming the
    /// field and value) for anything malformed; never throws on peer data. As in Linux: the payload must be exactly
    /// 40 bytes, a name filling all 32 bytes without NUL is taken as its first 31 bytes, and bit 0 of flags alone
    /// tells a destroy from a create.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out NameServiceMessage message, out string? error) =>
        TryParse(payload, out message, out error, out _);

    /// <summary>
    /// <see cref="TryParse(ReadOnlySpan{byte}, out NameServiceMessage, out string?)"/>, telling whether the name
    /// filled all 32 bytes without NUL and was cut to its first 31 (<paramref name="truncated"/>).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out NameServiceMessage message, out string? error, out bool truncated)
    {
        truncated = false;
        message = default;
        // Exactly 40, as Linux (rpmsg_ns_cb) and OpenAMP require: a longer message is another layout (old TI
        // firmware put a 32-byte description before addr), whose fields would be read from the wrong offsets.
        if (payload.Length != Size)
        {
            error = $"name-service message length {payload.Length} is not {Size}";
            return false;
        }
        var nameField = payload[..32];
        int nul = nameField.IndexOf((byte)0);
        if (nul < 0)
        {
            // Linux rpmsg_ns_cb forces name[31] = 0 and binds under the first 31 bytes; OpenAMP sends such names
            // (strncpy of 32 bytes). Accepted the same way, so a channel gets the name Linux would give it.
            nul = MaxNameLength;
            truncated = true;
        }
        if (nul == 0)
        {
            error = "name-service name is empty";
            return false;
        }
        uint address = BinaryPrimitives.ReadUInt32LittleEndian(payload[32..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[36..]);
        if (address == RpmsgAddress.Any)
        {
            error = "name-service addr is ADDR_ANY (0xFFFFFFFF)";
            return false;
        }
        // A cut at 31 bytes may split a multi-byte character: the name is then the whole characters before it (Linux
        // keeps the bytes; a string cannot). Anything else that is not UTF-8 is refused.
        Span<char> chars = stackalloc char[MaxNameLength];
        var status = Utf8.ToUtf16(nameField[..nul], chars, out _, out int written, replaceInvalidSequences: false, isFinalBlock: !truncated);
        if (status != OperationStatus.Done && !(truncated && status == OperationStatus.NeedMoreData && written > 0))
        {
            error = $"name-service name is not valid UTF-8 ({Convert.ToHexString(nameField[..nul])})";
            return false;
        }
        string name = new(chars[..written]);
        // Bit 0 alone decides, as in Linux, OpenAMP and RPMsg-Lite (they test flags & DESTROY): other bits are ignored.
        message = new NameServiceMessage(name, address, (flags & 1) != 0 ? NameServiceFlags.Destroy : NameServiceFlags.Create);
        error = null;
        return true;
    }

    /// <summary>Encodes into <paramref name="destination"/> (at least 40 bytes).</summary>
    public void Write(Span<byte> destination)
    {
        ValidateName(Name);
        if (destination.Length < Size)
            throw new ArgumentOutOfRangeException(nameof(destination), destination.Length, $"a name-service message needs {Size} bytes");
        destination[..32].Clear();
        Encoding.UTF8.GetBytes(Name, destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], Address);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[36..], (uint)Flags);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> fits the 32-byte field with a NUL.</summary>
    public static void ValidateName(string name) => ValidateName(name, nameof(name));

    /// <summary>As <see cref="ValidateName(string)"/>, the exception naming <paramref name="paramName"/> (the caller's parameter, e.g. <c>serviceName</c>).</summary>
    internal static void ValidateName(string name, string paramName)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(name);
        }
        catch (EncoderFallbackException)
        {
            // A lone surrogate has no UTF-8 form: the lenient encoder put U+FFFD on the wire, another name than this one.
            throw new ArgumentException($"service name '{name}' contains a lone surrogate, which has no UTF-8 form", paramName);
        }
        if (bytes == 0 || bytes > MaxNameLength || name.Contains('\0'))
            throw new ArgumentException($"service name '{name}' must be 1..{MaxNameLength} UTF-8 bytes without NUL (it is {bytes})", paramName);
    }
}
