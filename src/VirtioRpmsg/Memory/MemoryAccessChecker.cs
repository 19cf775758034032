using System.Collections.Concurrent;

namespace VirtioRpmsg.Memory;

/// <summary>
/// The strict checking mode (tests): a region created while <see cref="Ambient"/> is set behaves as Device
/// memory and reports every machine access the library makes to this checker, which counts it by width and
/// fails on one that is misaligned, wider than 8 bytes, asked for at a misaligned offset, or made through a
/// raw span (a span can be copied with SIMD or <c>dc zva</c>, which Device memory does not allow).
/// </summary>
/// <remarks>
/// A violation throws <see cref="DeviceMemoryAccessException"/> at the access and is also recorded, so a
/// violation on a background thread (where the exception may be absorbed as a device fault) still fails the test
/// through <see cref="ThrowIfViolated"/>.
/// </remarks>
internal sealed class MemoryAccessChecker
{
    private const int MaxRecorded = 16;

    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<(string Region, long Offset, int Width, bool Write)>? _log;
    private readonly long[] _byWidth = new long[4]; // 1, 2, 4, 8 bytes
    private int _violationCount;

    /// <summary>Creates a checker; <paramref name="keepLog"/> also keeps every access (region, offset, width) for inspection.</summary>
    internal MemoryAccessChecker(bool keepLog = false)
    {
        if (keepLog)
            _log = new();
    }

    /// <summary>Regions created while this is set (in this async flow, and threads it starts) use the checker.</summary>
    internal static readonly AsyncLocal<MemoryAccessChecker?> Ambient = new();

    /// <summary>Machine accesses seen, all widths.</summary>
    internal long Accesses => _byWidth[0] + _byWidth[1] + _byWidth[2] + _byWidth[3];

    /// <summary>Machine accesses seen of <paramref name="width"/> bytes (1, 2, 4 or 8).</summary>
    internal long AccessesOfWidth(int width) => Volatile.Read(ref _byWidth[System.Numerics.BitOperations.Log2((uint)width)]);

    /// <summary>Number of violations.</summary>
    internal int ViolationCount => Volatile.Read(ref _violationCount);

    /// <summary>The first violations, as messages.</summary>
    internal IReadOnlyCollection<string> Violations => _violations;

    /// <summary>Every access, when created with keepLog.</summary>
    internal IReadOnlyCollection<(string Region, long Offset, int Width, bool Write)> Log =>
        _log ?? throw new InvalidOperationException("This checker was created without keepLog.");

    /// <summary>One machine access of <paramref name="width"/> bytes at <paramref name="address"/> (region offset <paramref name="offset"/>).</summary>
    internal unsafe void Access(SharedMemoryRegion region, byte* address, long offset, int width, bool write)
    {
        if (width is not (1 or 2 or 4 or 8))
            Fail(region, $"{(write ? "write" : "read")} of {width} bytes at offset 0x{offset:X}: wider than 8 bytes or not a power of two");
        if (((nuint)address & (nuint)(width - 1)) != 0)
            Fail(region, $"{(write ? "write" : "read")} of {width} bytes at offset 0x{offset:X} (address 0x{(nuint)address:X}) is not naturally aligned");
        Interlocked.Increment(ref _byWidth[System.Numerics.BitOperations.Log2((uint)width)]);
        _log?.Enqueue((region.Name, offset, width, write));
    }

    /// <summary>An accessor call (ReadUInt32 etc.) at an offset its width does not divide: the library must not ask for one.</summary>
    internal void MisalignedRequest(SharedMemoryRegion region, long offset, int width) =>
        Fail(region, $"accessor of {width} bytes called at offset 0x{offset:X}, not {width}-byte aligned");

    /// <summary>A raw span over the region was handed out: what is done with it cannot be checked.</summary>
    internal void RawSpan(SharedMemoryRegion region, long offset, int length) =>
        Fail(region, $"raw span of {length} bytes at offset 0x{offset:X} handed out (use ReadBytes/WriteBytes/Fill on Device memory)");

    /// <summary>Throws if any violation was recorded, naming the first ones.</summary>
    internal void ThrowIfViolated()
    {
        if (ViolationCount > 0)
            throw new DeviceMemoryAccessException($"{ViolationCount} Device-memory access violation(s): " + string.Join("; ", _violations));
    }

    private void Fail(SharedMemoryRegion region, string what)
    {
        string message = $"Region '{region.Name}' (Device memory, checking mode): {what}.";
        if (Interlocked.Increment(ref _violationCount) <= MaxRecorded)
            _violations.Enqueue(message);
        throw new DeviceMemoryAccessException(message);
    }
}

/// <summary>An access that Device memory does not allow (misaligned, wider than 8 bytes, or through a raw span), caught by the checking mode.</summary>
internal sealed class DeviceMemoryAccessException(string message) : InvalidOperationException(message);
