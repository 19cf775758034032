using System.Diagnostics;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>Runs checks in order, prints one line per check and the closing "N passed, M failed" line.</summary>
public static class SmokeRunner
{
    /// <summary>Returns the number of failed checks.</summary>
    public static int Run(IEnumerable<SmokeCheck> checks, string? filter, TextWriter output)
    {
        int passed = 0, failed = 0;
        foreach (var check in checks)
        {
            if (filter is not null && !check.Name.Contains(filter, StringComparison.OrdinalIgnoreCase))
                continue;
            var clock = Stopwatch.StartNew();
            try
            {
                check.Body();
                passed++;
                output.WriteLine($"PASS {check.Name} ({clock.ElapsedMilliseconds} ms)");
            }
            catch (Exception e)
            {
                // A check that throws anything, not only SmokeFailure, fails: the run never crashes on one check.
                failed++;
                // One line per check: multi-line messages (DllNotFoundException lists every probe) are joined.
                output.WriteLine($"FAIL {check.Name}: {e.GetType().Name}: {e.Message.Trim().ReplaceLineEndings(" | ")}");
            }
        }
        output.WriteLine($"{passed} passed, {failed} failed");
        return failed;
    }
}
