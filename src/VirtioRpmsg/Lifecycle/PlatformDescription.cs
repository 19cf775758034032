using System.Text.Json;
using System.Text.Json.Serialization;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Everything the stack needs to know about a machine, in one JSON file: the memory regions and
/// their device addresses, where the resource table lives, the vdev layout (vrings and buffer pool),
/// the doorbell, the wait strategy and the physical ranges /dev/mem may map. See
/// docs/platform-description.md for the schema. Load or parse one with <see cref="Load"/> /
/// <see cref="Parse"/>; every error is a <see cref="PlatformDescriptionException"/> naming the JSON path.
/// </summary>
public sealed record PlatformDescription
{
    /// <summary>Size of the shared-memory file of OpenAMP's Linux-userspace machine.</summary>
    public const ulong OpenAmpSharedMemorySize = 0x80000;

    /// <summary>The shared-memory file of OpenAMP's Linux-userspace machine.</summary>
    public const string OpenAmpSharedMemoryPath = "/dev/shm/openamp.shm";

    /// <summary>Whether this side is the host (virtio driver) or the remote (virtio device).</summary>
    [JsonRequired]
    public PlatformRole Role { get; init; }

    /// <summary>The memory regions to map; names must be unique and ranges must not overlap.</summary>
    [JsonRequired]
    public IReadOnlyList<RegionDescription> Regions { get; init; } = [];

    /// <summary>Where the resource table lives; null (JSON "none") when the layout is given explicitly.</summary>
    [JsonRequired]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)] // null is written as "none", never left out
    [JsonConverter(typeof(JsonResourceTableLocationConverter))]
    public ResourceTableLocation? ResourceTable { get; init; }

    /// <summary>Where the vrings and the buffer pool are.</summary>
    [JsonRequired]
    public VdevLayoutDescription Vdev { get; init; } = new();

    /// <summary>How each side signals the other.</summary>
    [JsonRequired]
    public DoorbellDescription Doorbell { get; init; } = new();

    /// <summary>
    /// Further rpmsg vdevs of the same remote (vdev 1, 2, ...; <see cref="Vdev"/> and <see cref="Doorbell"/>
    /// are vdev 0), each with its own vrings, pool and doorbell. Needs a resource table: the remote
    /// writes one vdev entry per vdev. Null or empty: one vdev.
    /// </summary>
    public IReadOnlyList<PlatformVdevDescription>? AdditionalVdevs { get; init; }

    /// <summary>Rpmsg vdevs described: 1 + <see cref="AdditionalVdevs"/>.</summary>
    [JsonIgnore]
    public int VdevCount => 1 + (AdditionalVdevs?.Count ?? 0);

    /// <summary>Layout and doorbell of vdev <paramref name="index"/> (0 is <see cref="Vdev"/> + <see cref="Doorbell"/>).</summary>
    public PlatformVdevDescription GetVdev(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, VdevCount);
        return index == 0 ? new PlatformVdevDescription { Vdev = Vdev, Doorbell = Doorbell } : AdditionalVdevs![index - 1];
    }

    /// <summary>The JSON path of vdev <paramref name="index"/>'s fields: "" for vdev 0, else "additionalVdevs[i-1].".</summary>
    internal static string VdevPathPrefix(int index) => index == 0 ? "" : $"additionalVdevs[{index - 1}].";

    /// <summary>How the rpmsg layer waits; default <see cref="PlatformWaitStrategy.Interrupt"/>.</summary>
    public PlatformWaitStrategy WaitStrategy { get; init; } = PlatformWaitStrategy.Interrupt;

    /// <summary>Barrier strength of the vrings; default <see cref="PlatformBarriers.InnerShareable"/>.</summary>
    public PlatformBarriers Barriers { get; init; } = PlatformBarriers.InnerShareable;

    /// <summary>The only physical ranges a devMem region may map; none when absent.</summary>
    public IReadOnlyList<DevMemRange>? AllowedDevMemRanges { get; init; }

    /// <summary>
    /// The file <see cref="Load"/> read this description from (full path); null for one parsed from text or built in
    /// code. What opening it finds wrong (<see cref="PlatformResources.Open"/>, a uio map sysfs sizes differently, say)
    /// then names the file as <see cref="Load"/>'s own errors do.
    /// </summary>
    [JsonIgnore]
    public string? SourceFile { get; init; }

    // ---- loading -----------------------------------------------------------------------------

    /// <summary>
    /// The largest description file <see cref="Load"/> reads: descriptions are a few kilobytes, and a larger file (a log,
    /// an image, /dev/zero) is refused before it is read whole.
    /// </summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Reads and validates a description file (UTF-8, or UTF-16/32 with a byte order mark).</summary>
    /// <exception cref="PlatformDescriptionException">The description is invalid, or the file is larger than <see cref="MaxFileBytes"/>; names the file.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>, or it is a directory.</exception>
    /// <exception cref="IOException">The file could not be read.</exception>
    public static PlatformDescription Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json = ReadText(path);
        try
        {
            return Parse(json) with { SourceFile = Path.GetFullPath(path) };
        }
        catch (PlatformDescriptionException e)
        {
            throw e.WithSource(path);
        }
    }

    private static string ReadText(string path)
    {
        if (Directory.Exists(path))
            throw new FileNotFoundException($"'{Path.GetFullPath(path)}' is a directory, not a platform description file", path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var bytes = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = file.Read(chunk)) > 0)
        {
            if (bytes.Length + read > MaxFileBytes)
                throw new PlatformDescriptionException("$", $"(more than {MaxFileBytes} bytes)",
                    $"the file is larger than {MaxFileBytes} bytes, which no platform description is (is it the right file?)", path);
            bytes.Write(chunk, 0, read);
        }
        var content = bytes.GetBuffer().AsSpan(0, (int)bytes.Length);
        if (WideEncoding(content) is { } wide)
            return DecodeWide(content, wide, path);
        CheckUtf8(content, path);
        bytes.Position = 0;
        // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise; the mark itself is dropped.
        using var reader = new StreamReader(bytes, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>The UTF-16/32 encoding a byte order mark names (as StreamReader detects them), decoding strictly; null for UTF-8.</summary>
    private static System.Text.Encoding? WideEncoding(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0, 0]) ? new System.Text.UTF32Encoding(false, true, throwOnInvalidCharacters: true)
        : bytes.StartsWith((ReadOnlySpan<byte>)[0, 0, 0xFE, 0xFF]) ? new System.Text.UTF32Encoding(true, true, throwOnInvalidCharacters: true)
        : bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) ? new System.Text.UnicodeEncoding(false, true, throwOnInvalidBytes: true)
        : bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? new System.Text.UnicodeEncoding(true, true, throwOnInvalidBytes: true)
        : null;

    /// <summary>
    /// A UTF-16/32 file without its mark: a lone surrogate (or a code unit past U+10FFFF) is no text, and decoded with
    /// replacement it would read as U+FFFD (a path naming another file), as a bad UTF-8 byte would.
    /// </summary>
    private static string DecodeWide(ReadOnlySpan<byte> bytes, System.Text.Encoding encoding, string path)
    {
        int mark = encoding.Preamble.Length;
        try
        {
            return encoding.GetString(bytes[mark..]);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new PlatformDescriptionException("$", $"(byte offset {mark + Math.Max(e.Index, 0)})",
                $"the file is {encoding.WebName} with a byte order mark, but not valid {encoding.WebName} there (a lone surrogate, which is no character); save it as UTF-8", path);
        }
    }

    /// <summary>
    /// A file without a UTF-16/32 byte order mark must be UTF-8: a byte that is not (a Latin-1 "é" in a path) would be read
    /// as U+FFFD, and the description would name another file than the one written.
    /// </summary>
    private static void CheckUtf8(ReadOnlySpan<byte> bytes, string path)
    {
        var chars = new char[bytes.Length];
        if (System.Text.Unicode.Utf8.ToUtf16(bytes, chars, out int valid, out _, replaceInvalidSequences: false) != System.Buffers.OperationStatus.InvalidData)
            return;
        int line = 1 + bytes[..valid].Count((byte)'\n');
        int column = valid - (bytes[..valid].LastIndexOf((byte)'\n') + 1) + 1;
        throw new PlatformDescriptionException("$", $"(line {line}, byte {column}: 0x{bytes[valid]:X2})",
            "the file is not valid UTF-8 there (a description is UTF-8, or UTF-16/32 with a byte order mark); save it as UTF-8", path);
    }

    /// <summary>Parses and validates a description (comments and trailing commas allowed; unknown properties are errors).</summary>
    public static PlatformDescription Parse(string json) => PlatformJsonReader.Read(json);

    /// <summary>The description as indented JSON (parses back to an equivalent description).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, PlatformJsonContext.Default.PlatformDescription);

    /// <summary>Checks every cross-field rule; throws <see cref="PlatformDescriptionException"/> naming the path.</summary>
    public void Validate() => PlatformDescriptionValidator.Validate(this);

    // ---- well-known machines ------------------------------------------------------------------

    /// <summary>
    /// Exactly OpenAMP's Linux-userspace machine: /dev/shm/openamp.shm of 0x80000 bytes, resource
    /// table at 0, vrings at 0x4000 and 0x8000 (num 256, align 0x1000), buffer pool at 0x10000 of
    /// 0x40000 bytes (512 buffers of 512), and the Unix-socket doorbell /tmp/openamp.event.0 of which
    /// the remote is the server and the host the client.
    /// </summary>
    public static PlatformDescription OpenAmpLinux(PlatformRole role) => new()
    {
        Role = role,
        Regions = [SharedFile(OpenAmpSharedMemoryPath)],
        ResourceTable = new ResourceTableLocation { Region = "shm", Offset = 0 },
        Vdev = new VdevLayoutDescription
        {
            Vring0Address = 0x4000,
            Vring1Address = 0x8000,
            VringNum = 256,
            VringAlign = 0x1000,
            BufferPoolAddress = 0x10000,
            BufferPoolSize = 0x40000,
            BufferCount = 512,
            BufferSize = 512,
            // OpenAMP's table offers NS only; its host acks every offered bit but never writes used_event.
            Features = Rpmsg.RpmsgFeatures.NameService,
        },
        Doorbell = new DoorbellDescription
        {
            Kind = PlatformDoorbellKind.UnixSocket,
            Path = UnixSocketDoorbell.OpenAmpEventPath,
            Mode = role == PlatformRole.Remote ? DoorbellSocketMode.Server : DoorbellSocketMode.Client,
        },
        WaitStrategy = PlatformWaitStrategy.Interrupt,
    };

    private static RegionDescription SharedFile(string path) => new()
    {
        Name = "shm",
        Kind = PlatformRegionKind.ShmFile,
        Path = path,
        Create = true,
        DeviceAddress = 0,
        Size = OpenAmpSharedMemorySize,
    };
}
