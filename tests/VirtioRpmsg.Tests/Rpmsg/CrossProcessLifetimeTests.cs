using System.Text.RegularExpressions;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Endpoint and process lifetimes across processes: destroy while messages flow, remote crash, clean-up.</summary>
public sealed class CrossProcessLifetimeTests
{
    [Fact]
    public void Destroy_WhileTheRemoteKeepsSending_NoCallbackRunsAfterDestroyReturns()
    {
        using var xp = CrossProcessRemote.Start();
        int received = 0, afterDestroy = 0, destroyed = 0;
        var target = xp.Host.CreateEndpoint(RpmsgAddress.Any, (_, _, _) =>
        {
            if (Volatile.Read(ref destroyed) != 0)
                Interlocked.Increment(ref afterDestroy);
            Interlocked.Increment(ref received);
            xp.Changed();
        });
        using var sender = xp.Host.CreateEndpoint();
        // Echoes of off-channel messages land on the target while it is being destroyed.
        var flood = Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < 3000; i++)
            {
                try
                {
                    sender.SendOffChannel(target.Address, xp.EchoAddress, "x"u8, CrossProcessRemote.Limit);
                }
                catch (RpmsgDeviceUnavailableException)
                {
                    return;
                }
            }
        }, TaskCreationOptions.LongRunning);
        xp.WaitUntil(() => Volatile.Read(ref received) >= 50, "50 messages on the target");
        target.Dispose();
        Volatile.Write(ref destroyed, 1);

        Bounded.Await(flood.ContinueWith(_ => 0, TaskScheduler.Default));
        Assert.Null(flood.Exception);
        xp.WaitUntil(() => xp.Host.Counters.RxMessages >= 3000, "every echo back at the host");
        Assert.Equal(0, Volatile.Read(ref afterDestroy));
        Assert.True(target.IsDestroyed);
    }

    [Fact]
    public void KillRemote_HostKeepsSending_SendsFailWithDeviceUnavailableAndNothingHangs()
    {
        using var xp = CrossProcessRemote.Start();
        var channel = xp.WaitForChannel(SimulatedRemote.EchoServiceName);
        byte[] reply = new byte[channel.Endpoint.MaxPayload];
        CrossProcessRemote.RoundTrip(channel.Endpoint, channel.RemoteAddress, "alive"u8, reply);

        xp.Process.Kill();
        Assert.True(xp.Process.HasExited);
        Assert.Equal(137, xp.Process.ExitCode); // 128 + SIGKILL

        // Until the exit is noticed a send may still find a buffer (or time out); then every send fails.
        var last = Bounded.Run(() =>
        {
            for (int i = 0; i < 4 * xp.TxBuffers; i++)
            {
                try
                {
                    channel.Endpoint.Send("after"u8, TimeSpan.FromSeconds(2));
                }
                catch (Exception e) when (e is RpmsgDeviceUnavailableException or TimeoutException)
                {
                    if (e is RpmsgDeviceUnavailableException)
                        return e;
                }
            }
            return null;
        });
        var unavailable = Assert.IsType<RpmsgDeviceUnavailableException>(last);
        Assert.Equal(RpmsgDeviceState.Stopped, unavailable.State);
        Assert.Contains("exited", unavailable.Message);
        Assert.Throws<RpmsgDeviceUnavailableException>(() => channel.Endpoint.TrySend("x"u8));
    }

    [Fact]
    public void Dispose_AfterUse_ChildExitedOnItsOwnAndNoSharedMemoryFileLeft()
    {
        var xp = CrossProcessRemote.Start();
        string path;
        int pid;
        try
        {
            path = xp.Process.SharedMemoryPath;
            pid = xp.Process.ProcessId;
            Assert.Contains("vrpmsg-", path);
            // Unlinked as soon as both sides had it mapped.
            Assert.False(File.Exists(path), $"{path} should be unlinked while the link runs");
            xp.WaitForChannel(SimulatedRemote.EchoServiceName);
        }
        finally
        {
            xp.Dispose();
        }
        Assert.True(xp.Process.HasExited);
        Assert.Equal(0, xp.Process.ExitCode); // stdin EOF ended it: it was not killed
        Assert.False(File.Exists(path));
        Assert.False(ProcessAlive(pid), $"remote pid {pid} is still running");
    }

    [Theory]
    [InlineData("interrupt")]
    [InlineData("poll")]
    [InlineData("hybrid")]
    public void Demo_RunAsProcess_ExitsZeroVerifiesEveryEchoAndLeavesNothingInDevShm(string wait)
    {
        var before = ShmFiles();
        var (code, stdout, stderr) = CrossProcessCli.Run(TimeSpan.FromSeconds(90), "demo", "--count", "300", "--wait", wait);
        try
        {
            Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
            Assert.Contains($"wait strategy {wait}", stdout);
            Assert.Contains("channel 'rpmsg-echo' announced", stdout);
            Assert.Contains("verified 300/300 echoes", stdout);
            Assert.Matches(@"p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +p99\.9 [\d.]+ +max [\d.]+", stdout);
            string path = Regex.Match(stdout, @"shared memory: (\S+),").Groups[1].Value;
            Assert.StartsWith("/dev/shm/vrpmsg-", path);
            Assert.False(File.Exists(path));
            int remotePid = int.Parse(Regex.Match(stdout, @"pid (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(ProcessAlive(remotePid), $"the demo's remote (pid {remotePid}) is still running");
            // Other test runs (another clone's CI, say) may come and go in /dev/shm: nothing of the demo's naming made by
            // a CLI this test process started may appear.
            Assert.DoesNotContain(ShmFiles().Except(before), f => f.Contains("vrpmsg-demo-", StringComparison.Ordinal) && CrossProcessCli.LeftBehindHere(f));
        }
        finally
        {
            DeleteDemoLeftovers(before);
        }
    }

    [Fact]
    public void Demo_Interrupted_ExitsWith130AndCleansUp()
    {
        var before = ShmFiles();
        using var cli = CrossProcessCli.Start("demo", "--count", "100000000");
        try
        {
            cli.WaitForOutput("sending", TimeSpan.FromSeconds(60));
            string path = Regex.Match(cli.Stdout, @"shared memory: (\S+),").Groups[1].Value;
            int remotePid = int.Parse(Regex.Match(cli.Stdout, @"pid (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            // Ctrl+C is SIGINT; a process started with SIGINT ignored (a background job) passes that on, and then
            // SIGTERM, which goes through the same handler, stands in for it.
            string signal = SigIntIgnored() ? "-TERM" : "-INT";
            using (var kill = System.Diagnostics.Process.Start("kill", [signal, cli.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                kill.WaitForExit();
            int code = cli.WaitForExit(TimeSpan.FromSeconds(30));
            Assert.True(code == 130, $"exit {code}\nstdout: {cli.Stdout}\nstderr: {cli.Stderr}");
            Assert.Contains("interrupted", cli.Stderr);
            Assert.False(File.Exists(path));
            Assert.False(ProcessAlive(remotePid), $"the demo's remote (pid {remotePid}) is still running");
        }
        finally
        {
            DeleteDemoLeftovers(before);
        }
    }

    [Fact]
    public void Demo_KilledWithSigkill_RemoteChildExitsOnItsOwnAndNoFileIsLeft()
    {
        var before = ShmFiles();
        int remotePid = 0;
        using var cli = CrossProcessCli.Start("demo", "--count", "100000000");
        try
        {
            cli.WaitForOutput("sending", TimeSpan.FromSeconds(60));
            remotePid = int.Parse(Regex.Match(cli.Stdout, @"pid (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            cli.Process.Kill(entireProcessTree: false); // SIGKILL to the demo only: no clean-up code runs there
            cli.WaitForExit(TimeSpan.FromSeconds(30));

            // The orphaned remote sees its stdin close and exits. It is not our child, so watch /proc (bounded).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (ProcessAlive(remotePid))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the orphaned remote (pid {remotePid}) is still running 30 s after its host was killed");
                Thread.Sleep(50);
            }
            // The file was unlinked once both sides had it mapped, so a kill -9 leaves nothing behind.
            Assert.DoesNotContain(ShmFiles().Except(before), f => f.Contains("vrpmsg-demo-", StringComparison.Ordinal) && CrossProcessCli.LeftBehindHere(f));
        }
        finally
        {
            if (remotePid != 0 && ProcessAlive(remotePid))
                System.Diagnostics.Process.GetProcessById(remotePid).Kill();
            DeleteDemoLeftovers(before);
        }
    }

    [Theory]
    [InlineData("--count", "0")]
    [InlineData("--wait", "sometimes")]
    public void Demo_BadArgument_ExitsTwoWithOneLineReason(string option, string value)
    {
        var (code, _, stderr) = CrossProcessCli.Run(TimeSpan.FromSeconds(60), "demo", option, value);
        Assert.Equal(2, code);
        Assert.Contains(option, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void Demo_SizeLargerThanABuffer_ExitsOneWithOneLineReasonAndNoStackTrace()
    {
        var before = ShmFiles();
        try
        {
            var (code, _, stderr) = CrossProcessCli.Run(TimeSpan.FromSeconds(90), "demo", "--size", "100000");
            Assert.Equal(1, code);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("--size 100000", stderr);
            Assert.DoesNotContain("   at ", stderr);
        }
        finally
        {
            DeleteDemoLeftovers(before);
        }
    }

    private static HashSet<string> ShmFiles() =>
        Directory.Exists("/dev/shm") ? Directory.GetFiles("/dev/shm", "vrpmsg-*").ToHashSet() : [];

    /// <summary>A failing demo run must not leave its file for the next test run: remove it here, after the assertions.</summary>
    private static void DeleteDemoLeftovers(HashSet<string> before)
    {
        foreach (var f in ShmFiles().Except(before).Where(f => f.Contains("vrpmsg-demo-", StringComparison.Ordinal) && CrossProcessCli.LeftBehindHere(f)))
            File.Delete(f);
    }

    private static bool SigIntIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line[7..].Trim(), 16) & (1UL << 1)) != 0; // bit (SIGINT - 1)
    }

    /// <summary>True while <paramref name="pid"/> runs (a zombie waiting to be reaped counts as exited).</summary>
    private static bool ProcessAlive(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        // "pid (comm) S ...": the state follows the last ')'.
        int close = stat.LastIndexOf(')');
        char state = close >= 0 && close + 2 < stat.Length ? stat[close + 2] : 'X';
        return state is not ('Z' or 'X');
    }
}
