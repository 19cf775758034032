using System.Diagnostics;

namespace VirtioRpmsg.Tests.Infrastructure;

/// <summary>
/// A child process running VirtioRpmsg.TestPeer in some mode. Dispose always kills it (whole tree)
/// and waits for it, so a failing test never leaves a process behind. Stdout lines are collected
/// and can be awaited with a bound; stderr is kept for failure messages.
/// </summary>
public sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Threading.Channels.Channel<string> _lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private readonly System.Text.StringBuilder _stderr = new();

    private PeerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                _lines.Writer.TryComplete();
            else
                _lines.Writer.TryWrite(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (_stderr)
                    _stderr.AppendLine(e.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Path of the peer assembly, copied next to the test assembly by the project reference.</summary>
    public static string PeerAssembly => Path.Combine(AppContext.BaseDirectory, "VirtioRpmsg.TestPeer.dll");

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string StandardError
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    /// <summary>Starts the peer in <paramref name="mode"/>.</summary>
    public static PeerProcess Start(string mode, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(PeerAssembly);
        psi.ArgumentList.Add(mode);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the test peer");
        return new PeerProcess(process);
    }

    /// <summary>Sends one line to the peer's stdin.</summary>
    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Reads the next stdout line, failing (not hanging) after <paramref name="timeout"/>.</summary>
    public string ReadLine(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return _lines.Reader.ReadAsync(cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"peer {Id} printed nothing within {timeout.TotalSeconds} s; stderr: {StandardError}");
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            _process.WaitForExit(5000);
            throw new InvalidOperationException($"peer {Id} closed stdout (exit {(_process.HasExited ? _process.ExitCode : -1)}); stderr: {StandardError}");
        }
    }

    /// <summary>Reads lines until one equals <paramref name="expected"/>.</summary>
    public void Expect(string expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"peer {Id} did not print '{expected}' within {timeout.TotalSeconds} s; stderr: {StandardError}");
            if (ReadLine(left) == expected)
                return;
        }
    }

    /// <summary>Closes stdin and waits for a clean exit; returns the exit code (throws on timeout).</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The peer already exited and closed the pipe.
        }
        if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
            throw new TimeoutException($"peer {Id} did not exit within {timeout.TotalSeconds} s; stderr: {StandardError}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Kills the peer immediately (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        _process.Dispose();
    }
}
