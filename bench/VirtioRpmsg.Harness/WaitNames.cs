using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The names wait strategies have in reports and on command lines (as in `rpmsg ping --wait`).</summary>
public static class WaitNames
{
    /// <summary>"interrupt", "busy-poll", "hybrid" or "caller-poll".</summary>
    public static string Of(RpmsgWaitStrategy wait) => wait switch
    {
        RpmsgWaitStrategy.Interrupt => "interrupt",
        RpmsgWaitStrategy.BusyPoll => "busy-poll",
        RpmsgWaitStrategy.Hybrid => "hybrid",
        RpmsgWaitStrategy.CallerPoll => "caller-poll",
        _ => wait.ToString(),
    };
}
