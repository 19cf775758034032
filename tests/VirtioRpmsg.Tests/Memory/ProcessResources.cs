namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Open descriptors (/proc/self/fd entries) and shared mappings (/proc/self/maps lines): every mapping
/// the library makes is shared, regions and guard-page reservations alike.
/// </summary>
/// <remarks>
/// Private mappings and the JIT's "doublemapper" memfd are left out on purpose: the GC commits and
/// decommits its heap and the JIT maps code at any time, which moved the raw line count by one or two
/// even for operations that never reach native code.
/// </remarks>
public readonly record struct ProcessResources(int Descriptors, int Mappings)
{
    public static ProcessResources Snapshot() => new(OpenDescriptors(), File.ReadLines("/proc/self/maps").Count(IsLibraryKind));

    /// <summary>Entries in /proc/self/fd right now (no GC first: callers decide whether to settle finalizers).</summary>
    public static int OpenDescriptors() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    /// <summary>
    /// Runs <paramref name="operation"/> once to warm up (first use loads types and resources), then
    /// <paramref name="repeats"/> more times, and asserts that the process holds exactly as many
    /// descriptors and mappings afterwards as before the repeats.
    /// </summary>
    public static void AssertNoLeak(Action operation, int repeats = 3)
    {
        operation();
        var before = Snapshot();
        for (int i = 0; i < repeats; i++)
            operation();
        var after = Snapshot();
        Assert.Equal(before, after);
    }

    // "start-end perms offset dev inode [path]"
    private static bool IsLibraryKind(string line)
    {
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5)
            return false;
        string path = fields.Length > 5 ? fields[5] : "";
        return fields[1][3] == 's' && !path.Contains("doublemapper", StringComparison.Ordinal);
    }
}
