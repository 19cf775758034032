using System.Diagnostics;
using System.Text;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Runs the rpmsg CLI (rpmsg.dll, copied next to the tests) as a process, bounded; always reaped.</summary>
internal sealed class CrossProcessCli : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _lines = new(0);

    // The CLIs this test process started, by pid.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, CrossProcessCli> s_started = new();
    private volatile bool _reaped;

    private CrossProcessCli(Process process) => Process = process;

    /// <summary>
    /// True when <paramref name="shmFile"/> (named PREFIX-PID-...) was made by a CLI this test process started and that
    /// has exited (disposed or not: a test looks for leftovers before its <c>using</c> ends): only those may be cleaned up,
    /// never another test run's (several runs can share /dev/shm), nor the file of a CLI another test class is running
    /// right now (classes run in parallel: deleting it made that CLI's remote fail).
    /// </summary>
    public static bool LeftBehindHere(string shmFile) =>
        Path.GetFileName(shmFile).Split('-') is [_, _, var pid, ..] && int.TryParse(pid, out int id) && s_started.TryGetValue(id, out var cli) && cli.HasExited;

    private bool HasExited
    {
        get
        {
            if (_reaped)
                return true;
            try
            {
                return Process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true; // disposed meanwhile
            }
        }
    }

    public Process Process { get; }

    public string Stdout
    {
        get
        {
            lock (_stdout)
                return _stdout.ToString();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public static CrossProcessCli Start(params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rpmsg.dll"));
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start rpmsg");
        var cli = new CrossProcessCli(process);
        s_started[process.Id] = cli;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (cli._stdout)
                cli._stdout.AppendLine(e.Data);
            cli._lines.Release();
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (cli._stderr)
                    cli._stderr.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs to completion (bounded) and returns the exit code.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan limit, params string[] args)
    {
        using var cli = Start(args);
        int code = cli.WaitForExit(limit);
        return (code, cli.Stdout, cli.Stderr);
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails after <paramref name="limit"/>.</summary>
    public void WaitForOutput(string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || Process.HasExited && !_lines.Wait(0))
                Assert.Fail($"rpmsg did not print '{text}' within {limit.TotalSeconds} s\nstdout: {Stdout}\nstderr: {Stderr}");
            _lines.Wait(left);
        }
    }

    public int WaitForExit(TimeSpan limit)
    {
        if (!Process.WaitForExit(limit))
            Assert.Fail($"rpmsg did not exit within {limit.TotalSeconds} s\nstdout: {Stdout}\nstderr: {Stderr}");
        Process.WaitForExit(); // flushes the output events
        return Process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
                Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
            _reaped = true;
        }
        catch (InvalidOperationException)
        {
        }
        Process.Dispose();
        _lines.Dispose();
    }
}
