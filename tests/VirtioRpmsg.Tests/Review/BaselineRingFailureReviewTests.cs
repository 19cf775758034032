using System.Diagnostics;
using VirtioRpmsg.Tests.Packaging;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// The C baseline's ring echo (bench/baseline/ring.c) reports which of the echo child's checks failed in its exit
/// status. The parent waits for each echo blocked on an eventfd; a child that fails a check and exits without a kick
/// left it blocked until the run's watchdog (60 s by default) killed the whole program with SIGALRM: no status, no
/// message, every metric lost. And a descriptor shorter than the rpmsg header wrapped the child's length check
/// (desc.len - 16 as an unsigned), so a header length past the buffer was copied into a 512-byte stack array.
/// Built here with RING_TEST_FAULT (1: the first request fails a check; 2: the host posts an 8-byte descriptor whose
/// header claims 612 bytes), the run must end at once, saying the ring's echo process failed with status 11.
/// </summary>
public sealed class BaselineRingFailureReviewTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void RingEcho_AFailedCheckInTheChild_IsReportedAtOnce_NotLeftToTheWatchdog(int fault)
    {
        string root = PackedPackage.FindRepositoryRoot();
        string dir = Path.Combine(Path.GetTempPath(), "vrpmsg-ring-fault-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string program = Path.Combine(dir, "pingpong-fault");
            var (ccExit, _, ccErr) = Run("cc", ["-O2", "-pthread", "-Wall", "-Wextra", "-Werror", $"-DRING_TEST_FAULT={fault}", "-o", program,
                Path.Combine(root, "bench", "baseline", "pingpong.c"), Path.Combine(root, "bench", "baseline", "ring.c")], TimeSpan.FromSeconds(60));
            Assert.True(ccExit == 0, "cc failed: " + ccErr);

            // With the defect the run ends only by its watchdog (SIGALRM: exit 142, nothing said); the exit status and
            // the message tell the two apart, no clock needed.
            var (exit, _, err) = Run(program, ["-n", "5", "-w", "0", "-t", "12"], TimeSpan.FromSeconds(30));
            Assert.True(exit == 1, $"exit {exit} (142: the watchdog ended it); stderr: {err}");
            Assert.Contains("ring: echo process failed (status 0xb00)", err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Exit, string Out, string Err) Run(string file, string[] args, TimeSpan bound)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(bound))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
