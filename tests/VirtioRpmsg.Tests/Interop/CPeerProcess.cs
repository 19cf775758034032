using System.Diagnostics;
using System.Text;

namespace VirtioRpmsg.Tests.Interop;

/// <summary>
/// One of the C test peers (tests/peers/, built by the test project with cc and copied to peers/NAME)
/// running as a child process. Output is collected; every wait is bounded; Dispose kills and reaps it,
/// so a failing test never leaves a process behind.
/// </summary>
internal sealed class CPeerProcess : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _lines = new(0);

    private CPeerProcess(Process process) => Process = process;

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_stdout)
                lock (_stderr)
                    return $"stdout: {_stdout}\nstderr: {_stderr}";
        }
    }

    public string Stdout
    {
        get
        {
            lock (_stdout)
                return _stdout.ToString();
        }
    }

    public static string PathOf(string peer) => Path.Combine(AppContext.BaseDirectory, "peers", peer);

    public static CPeerProcess Start(string peer, params string[] args)
    {
        var path = PathOf(peer);
        Assert.True(File.Exists(path), $"the C peer {path} was not built (the test project compiles tests/peers/{peer}.c with cc)");
        var psi = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {path}");
        var peerProcess = new CPeerProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (peerProcess._stdout)
                    peerProcess._stdout.AppendLine(e.Data);
                peerProcess._lines.Release();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (peerProcess._stderr)
                    peerProcess._stderr.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peerProcess;
    }

    /// <summary>Waits for the exit within <paramref name="limit"/> (fails the test otherwise) and returns the exit code.</summary>
    public int WaitForExit(TimeSpan limit, string what)
    {
        if (!Process.WaitForExit(limit))
            Assert.Fail($"{what}: the C peer did not finish within {limit.TotalSeconds} s (blocked in a kick, or waiting for a message)\n{Output}");
        Process.WaitForExit(); // flushes the output events
        return Process.ExitCode;
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>, failing after <paramref name="limit"/>.</summary>
    public void WaitForOutput(string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || Process.HasExited && !_lines.Wait(0))
                Assert.Fail($"the C peer did not print '{text}' within {limit.TotalSeconds} s\n{Output}");
            _lines.Wait(left);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
                Process.Kill();
            Process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }
        Process.Dispose();
        _lines.Dispose();
    }
}
