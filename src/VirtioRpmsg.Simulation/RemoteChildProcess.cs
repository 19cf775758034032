using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// One child of <see cref="SimulatedRemoteProcess"/> running <see cref="SimulatedRemoteChild.Run(IReadOnlyList{string}, TextReader?, TextWriter?, CancellationToken)"/>
/// (<c>COMMAND remote --shm PATH --passing NAME ...</c>): builds its start info, collects stdout lines (READY, ENDPOINT,
/// command replies) and stderr, runs line-protocol commands (<see cref="SimulatedRemoteCommands"/>) and kills
/// it. The child exits when its stdin closes, so it never outlives this process.
/// </summary>
internal sealed class RemoteChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly CancellationTokenSource _exited = new();
    private readonly object _commandLock = new();
    private int _exitedRaised;
    private int _disposed;

    private RemoteChildProcess(ProcessStartInfo startInfo) => _process = new Process { StartInfo = startInfo };

    /// <summary>Process id (0 before it started).</summary>
    public int ProcessId { get; private set; }

    /// <summary>Cancelled once the child has exited (its stdout closed or the exit was seen).</summary>
    public CancellationToken ExitedToken => _exited.Token;

    /// <summary>True once the child has exited (or this object was disposed); false before it was launched.</summary>
    public bool HasExited
    {
        get
        {
            if (Volatile.Read(ref _disposed) != 0 || _exited.IsCancellationRequested)
                return true;
            if (ProcessId == 0)
                return false;
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true; // disposed meanwhile
            }
        }
    }

    /// <summary>Exit code once exited, else null.</summary>
    public int? ExitCode => ProcessId != 0 && _process.HasExited ? _process.ExitCode : null;

    /// <summary>What the child wrote on stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    /// <summary>Raised once when the child exits (on a thread-pool thread).</summary>
    public event Action<RemoteChildProcess>? Exited;

    /// <summary>The arguments of the <c>remote</c> entry point (<see cref="SimulatedRemoteChild"/>) for a host-driven child.</summary>
    public static List<string> RemoteArguments(string shmPath, string passingName, SimulatedServices services, RpmsgWaitStrategy wait, IEnumerable<string> extra)
    {
        var args = new List<string> { "remote", "--shm", shmPath, "--passing", passingName, "--services", ServicesArgument(services), "--wait", SimulatedRemoteChild.WaitArgument(wait) };
        args.AddRange(extra);
        return args;
    }

    /// <summary>
    /// Creates (not started) the child: <paramref name="command"/> (the executable and its leading arguments, see
    /// <see cref="SimulatedRemoteProcessOptions.RemoteCommand"/>) followed by <paramref name="args"/>.
    /// </summary>
    public static RemoteChildProcess Create(IReadOnlyList<string> command, IReadOnlyList<string> args)
    {
        if (command.Count == 0 || string.IsNullOrEmpty(command[0]))
            throw new ArgumentException("the command that runs the simulated remote is empty: it needs at least the executable", nameof(command));
        var psi = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in command.Skip(1).Concat(args))
            psi.ArgumentList.Add(a);
        return new RemoteChildProcess(psi);
    }

    private static string ServicesArgument(SimulatedServices services)
    {
        var names = new List<string>();
        if ((services & SimulatedServices.Echo) != 0)
            names.Add("echo");
        if ((services & SimulatedServices.Sink) != 0)
            names.Add("sink");
        return names.Count == 0 ? "none" : string.Join(',', names);
    }

    /// <summary>Starts the child and the stdout/stderr readers.</summary>
    public void Launch()
    {
        _process.EnableRaisingEvents = true;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                _stdout.Writer.TryComplete();
            else
                _stdout.Writer.TryWrite(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (_stderr)
                    _stderr.AppendLine(e.Data);
        };
        _process.Exited += (_, _) => OnExited();
        if (!_process.Start())
            throw new InvalidOperationException($"could not start the simulated remote ({_process.StartInfo.FileName})");
        ProcessId = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Reads lines until READY; "ENDPOINT name 0xADDR" lines before it go into <paramref name="endpoints"/>.</summary>
    public void ReadUntilReady(Deadline deadline, IDictionary<string, uint>? endpoints, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            string line = ReadLine(deadline.Remaining, "READY", cancellationToken);
            if (line == "READY")
                return;
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (endpoints is not null && words.Length == 3 && words[0] == "ENDPOINT" && words[2].StartsWith("0x", StringComparison.Ordinal)
                && uint.TryParse(words[2].AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint address))
                endpoints[words[1]] = address;
        }
    }

    public string ReadLine(TimeSpan timeout, string waitingFor, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            return _stdout.Reader.ReadAsync(cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the simulated remote (pid {ProcessId}) did not answer ({waitingFor}) within {timeout.TotalSeconds:0.#} s; stderr: {LastStderrLine()}");
        }
        catch (ChannelClosedException)
        {
            throw ExitedEarly();
        }
    }

    public InvalidOperationException ExitedEarly()
    {
        _process.WaitForExit(5000);
        string code = _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "unknown";
        return new InvalidOperationException($"the simulated remote (pid {ProcessId}) exited with code {code}: {LastStderrLine()}");
    }

    public string LastStderrLine()
    {
        var lines = StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(nothing on stderr)" : lines[^1];
    }

    /// <summary>Writes one command line (no reply read); <paramref name="afterWrite"/> runs after the write, under the command lock.</summary>
    public string Command(string line, TimeSpan timeout, Action? afterWrite = null)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.Contains('\n', StringComparison.Ordinal))
            throw new ArgumentException("a command is one line", nameof(line));
        lock (_commandLock)
        {
            try
            {
                _process.StandardInput.WriteLine(line);
                _process.StandardInput.Flush();
            }
            catch (IOException e)
            {
                throw new InvalidOperationException($"the simulated remote (pid {ProcessId}) is gone: {e.Message}", e);
            }
            afterWrite?.Invoke();
            string reply = ReadLine(timeout, $"reply to '{line}'");
            if (reply == "OK")
                return "";
            if (reply.StartsWith("OK ", StringComparison.Ordinal))
                return reply[3..];
            throw new InvalidOperationException($"the simulated remote refused '{line}': {(reply.StartsWith("ERR ", StringComparison.Ordinal) ? reply[4..] : reply)}");
        }
    }

    /// <summary>Writes a line without waiting for a reply (a command after which the child dies); false if stdin is gone.</summary>
    public bool TryWriteLine(string line)
    {
        lock (_commandLock)
        {
            try
            {
                _process.StandardInput.WriteLine(line);
                _process.StandardInput.Flush();
                return true;
            }
            catch (IOException)
            {
                return false;
            }
        }
    }

    /// <summary>SIGKILL (as a crash would) and reap.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>Closes stdin (the child exits on EOF), waits up to <paramref name="timeout"/>, then kills; always reaped on return.</summary>
    public void Shutdown(TimeSpan timeout)
    {
        if (ProcessId == 0)
            return;
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }
        if (!_process.WaitForExit(timeout))
            Kill();
        _process.WaitForExit();
    }

    private void OnExited()
    {
        try
        {
            _exited.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        if (Interlocked.Exchange(ref _exitedRaised, 1) == 0)
            RaiseOnce(Exited, this);
    }

    /// <summary>Runs an exit event's subscribers; a subscriber's failure must not take the process down from a thread-pool thread.</summary>
    internal static void RaiseOnce<T>(Action<T>? handler, T sender)
    {
        try
        {
            handler?.Invoke(sender);
        }
        catch (Exception)
        {
            // Nothing to do: the subscriber owns its failure.
        }
    }

    /// <summary>Releases the Process object (call <see cref="Shutdown"/> or <see cref="Kill"/> first).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _process.Dispose();
        _exited.Dispose();
    }
}
