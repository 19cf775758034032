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
    /// descriptors and mappings afterwards as before the repeats. With <paramref name="settle"/>, pending
    /// finalizers run before the first snapshot (never before the second: a resource dropped instead of
    /// disposed must show up as a leak).
    /// </summary>
    /// <remarks>
    /// The runtime or an earlier test's background work (a child's exit, a socket closing) can open or
    /// close a descriptor between two snapshots (seen once in a full run: +2). A leak repeats with every
    /// attempt and such noise does not, so equal snapshots once within three attempts pass.
    /// </remarks>
    public static void AssertNoLeak(Action operation, int repeats = 3, bool settle = false)
    {
        operation();
        ProcessResources before = default, after = default;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            if (settle)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
            before = Snapshot();
            for (int i = 0; i < repeats; i++)
                operation();
            after = Snapshot();
            if (after == before)
                return;
        }
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
