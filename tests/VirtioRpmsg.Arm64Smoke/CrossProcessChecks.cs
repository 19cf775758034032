using System.Diagnostics;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Two processes on one shared-memory file. Under qemu-user a child must be started through the
/// emulator too: tests/arm64-smoke.sh sets VRPMSG_SMOKE_LAUNCHER to qemu-aarch64-static.
/// </summary>
public static class CrossProcessChecks
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Cross-process: a child publishes a payload with a release store; this process consumes it with acquire loads", ChildPublishes);
    }

    /// <summary>Starts this program again with <paramref name="args"/>, through the launcher when one is set.</summary>
    public static Process StartSelf(params string[] args)
    {
        var psi = SelfStartInfo(args);
        psi.RedirectStandardError = true;
        return Process.Start(psi) ?? throw new SmokeFailure($"could not start '{psi.FileName} {string.Join(' ', psi.ArgumentList)}'");
    }

    /// <summary>How to run this program again with <paramref name="args"/> (through the launcher when one is set).</summary>
    public static ProcessStartInfo SelfStartInfo(IEnumerable<string> args)
    {
        var command = SelfCommand(args);
        var psi = new ProcessStartInfo(command[0]) { UseShellExecute = false };
        foreach (var a in command.Skip(1))
            psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>The command line that runs this program again with <paramref name="args"/>: launcher (if set), executable, assembly under dotnet, args.</summary>
    public static List<string> SelfCommand(IEnumerable<string> args)
    {
        var command = new List<string>();
        string? launcher = Environment.GetEnvironmentVariable("VRPMSG_SMOKE_LAUNCHER");
        if (!string.IsNullOrEmpty(launcher))
            command.Add(launcher);
        // This executable (apphost, self-contained or NativeAOT), or dotnet + the assembly in a framework-dependent run.
        command.AddRange(SimulatedRemoteProcessOptions.CurrentProcessCommand());
        command.AddRange(args);
        return command;
    }

    private static void ChildPublishes()
    {
        string path = $"/dev/shm/vrpmsg-test-smoke-xproc-{Environment.ProcessId}";
        Process? child = null;
        try
        {
            using var region = SharedMemoryRegion.CreateFile(path, 8192);
            child = StartSelf(ChildWriter.Mode, path);
            var stderr = child.StandardError.ReadToEndAsync();
            long deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
            var spin = new SpinWait();
            while (true)
            {
                // Consume point: the flag is read with acquire; only then is the payload read.
                uint flag;
                using (var lease = region.Acquire())
                    flag = lease.ReadUInt32Acquire(ChildWriter.FlagOffset);
                if (flag == ChildWriter.Published)
                    break;
                Expect.True(flag == 0, $"flag word holds 0x{flag:X8}, neither 0 nor the published value");
                if (child.HasExited && child.ExitCode != 0)
                    throw new SmokeFailure($"child exited with {child.ExitCode}: {stderr.Result.Trim()}");
                Expect.True(Environment.TickCount64 < deadline, $"child published within {Bound.TotalSeconds} s");
                spin.SpinOnce(sleep1Threshold: 20);
            }
            using (var lease = region.Acquire())
            {
                var payload = lease.GetReadOnlySpan(ChildWriter.PayloadOffset, ChildWriter.PayloadLength);
                for (int i = 0; i < payload.Length; i++)
                    Expect.Equal(ChildWriter.PayloadByte(i), payload[i], $"payload byte {i}");
            }
            Expect.True(child.WaitForExit(Bound), "child exited");
            Expect.Equal(0, child.ExitCode, "child exit code");
        }
        finally
        {
            if (child is not null)
            {
                if (!child.HasExited)
                    child.Kill(entireProcessTree: true);
                child.Dispose();
            }
            File.Delete(path);
        }
    }
}
