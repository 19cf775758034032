using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>
/// Puts every region a test creates (in its async flow and the threads it starts) into the strict checking
/// mode: Device-memory accessors only, each access checked (naturally aligned, at most 8 bytes, no raw spans).
/// Disposing fails the test if any access broke the rules, even one made on a background thread whose
/// exception the library absorbed.
/// </summary>
internal sealed class DeviceMemoryScope : IDisposable
{
    private DeviceMemoryScope(MemoryAccessChecker checker) => Checker = checker;

    public MemoryAccessChecker Checker { get; }

    /// <summary>True inside a DeviceMemory run (a test may scale its work down: checked accesses are slower).</summary>
    public static bool IsActive => MemoryAccessChecker.Ambient.Value is not null;

    public static DeviceMemoryScope Enter(bool keepLog = false)
    {
        var checker = new MemoryAccessChecker(keepLog);
        MemoryAccessChecker.Ambient.Value = checker;
        return new DeviceMemoryScope(checker);
    }

    public void Dispose()
    {
        MemoryAccessChecker.Ambient.Value = null;
        Checker.ThrowIfViolated();
    }
}

