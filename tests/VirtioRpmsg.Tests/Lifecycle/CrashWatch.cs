using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>Records the first crash a <see cref="RemoteProcessor"/> reports.</summary>
internal sealed class CrashWatch
{
    public ManualResetEventSlim Reported { get; } = new();

    public string? Reason { get; private set; }

    public static CrashWatch On(RemoteProcessor processor)
    {
        var watch = new CrashWatch();
        processor.CrashReported += reason =>
        {
            if (watch.Reason is null)
                watch.Reason = reason;
            watch.Reported.Set();
        };
        return watch;
    }
}
