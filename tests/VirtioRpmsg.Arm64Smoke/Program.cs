namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Usage: VirtioRpmsg.Arm64Smoke [--expect-arch arm64|x64] [--filter TEXT]
/// Runs every check, prints PASS/FAIL lines and "N passed, M failed", exits 1 if any failed.
/// To extend: add a file with <c>public static IEnumerable&lt;SmokeCheck&gt; All()</c> per area and one line below.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == ChildWriter.Mode)
            return ChildWriter.Run(args[1..]);
        if (args.Length > 0 && args[0] == RpmsgRemoteChild.Mode)
            return RpmsgRemoteChild.Run(args[1..]);

        string? expectArch = null, filter = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--expect-arch" when i + 1 < args.Length:
                    expectArch = args[++i];
                    break;
                case "--filter" when i + 1 < args.Length:
                    filter = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: [--expect-arch arm64|x64] [--filter TEXT]");
                    return 2;
            }
        }

        var checks = new List<SmokeCheck>();
        checks.AddRange(PlatformChecks.All(expectArch));
        checks.AddRange(MemoryChecks.All());
        checks.AddRange(DeviceMemoryChecks.All());
        checks.AddRange(LeaseChecks.All());
        checks.AddRange(LifecycleChecks.All());
        checks.AddRange(CrossProcessChecks.All());
        checks.AddRange(VirtqueueChecks.All());
        checks.AddRange(SynchronizedQueueChecks.All());
        checks.AddRange(RpmsgChecks.All());
        checks.AddRange(RecoveryChecks.All());
        return SmokeRunner.Run(checks, filter, Console.Out) == 0 ? 0 : 1;
    }
}
