using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Guard pages must really fault: a child process maps a guarded region and writes one byte just
/// outside it through a raw reference (no lease bounds check). It has to die of the fault.
/// </summary>
public class GuardPageTests
{
    private const int SigAbrt = 6;
    private const int SigSegv = 11;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("anonymous", "after")]
    [InlineData("anonymous", "before")]
    [InlineData("memfd", "after")]
    [InlineData("memfd", "before")]
    public void Write_OneBytePastGuardedRegion_KillsProcessWithSegmentationFault(string backing, string where)
    {
        using var peer = PeerProcess.Start("guard-page", backing, where);
        peer.Expect("READY", Bound);

        int exit = peer.WaitForExit(Bound);

        // The runtime turns a SIGSEGV in managed code into a fatal AccessViolationException and aborts
        // (128 + SIGABRT); a fault it does not handle kills the process with SIGSEGV itself (128 + SIGSEGV).
        string stderr = peer.StandardError;
        Assert.True(exit == 128 + SigSegv || (exit == 128 + SigAbrt && stderr.Contains("AccessViolationException", StringComparison.Ordinal)),
            $"expected death by SIGSEGV, got exit {exit}; stderr: {stderr}");
    }

    [Theory]
    [InlineData("anonymous")]
    [InlineData("memfd")]
    public void Write_LastByteOfGuardedRegion_Succeeds(string backing)
    {
        // Control: the same raw write one byte further in is fine, so the fault above is the guard's doing.
        using var peer = PeerProcess.Start("guard-page", backing, "inside");
        peer.Expect("READY", Bound);
        Assert.Equal("TOUCHED", peer.ReadLine(Bound));
        Assert.Equal(0, peer.WaitForExit(Bound));
    }
}
