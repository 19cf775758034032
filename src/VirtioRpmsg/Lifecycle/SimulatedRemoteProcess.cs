using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Host side of the two-process simulation: creates the shared-memory file, starts the simulated remote
/// (<c>dotnet rpmsg.dll remote --shm PATH --passing NAME</c>) as a child, passes it the eventfd doorbells,
/// waits for its READY, unlinks the file (both sides have it mapped, so nothing is left in /dev/shm even if
/// either process is killed), loads the resource table the remote wrote and creates the host
/// <see cref="RpmsgDevice"/> — not started, so drivers can be registered first: call <c>Host.Start()</c>.
/// </summary>
/// <remarks>
/// The child exits when its standard input closes, so it never outlives this process. When it exits
/// (crash included) the host device is stopped (<see cref="SimulatedRemoteProcessOptions.StopHostWhenRemoteExits"/>):
/// sends then throw <see cref="RpmsgDeviceUnavailableException"/>; a send already waiting for a buffer
/// wakes with that exception too, or, if it started before the exit was seen, may end with
/// <see cref="TimeoutException"/>. Dispose stops the host, closes the child's stdin, kills it if it has not
/// exited within <see cref="SimulatedRemoteProcessOptions.ExitTimeout"/>, unmaps and deletes what is left.
/// </remarks>
public sealed class SimulatedRemoteProcess : IDisposable
{
    private readonly SimulatedRemoteProcessOptions _options;
    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly CancellationTokenSource _exited = new();
    private readonly Dictionary<string, uint> _endpoints = new(StringComparer.Ordinal);
    private readonly object _commandLock = new();
    private PlatformResources? _resources;
    private DescriptorPassing? _connection;
    private IDoorbell? _doorbell;
    private RpmsgDevice? _host;
    private int _exitedRaised;
    private int? _exitCode;
    private int _disposed;

    private SimulatedRemoteProcess(SimulatedRemoteProcessOptions options, string sharedMemoryPath, Process process)
    {
        _options = options;
        SharedMemoryPath = sharedMemoryPath;
        _process = process;
    }

    /// <summary>The shared-memory file (unlinked once both sides mapped it).</summary>
    public string SharedMemoryPath { get; }

    /// <summary>The host device (created, not started).</summary>
    public RpmsgDevice Host => _host ?? throw new InvalidOperationException("the simulated remote is not started");

    /// <summary>The host's platform resources (mapped memory, loaded resource table).</summary>
    public PlatformResources Resources => _resources ?? throw new InvalidOperationException("the simulated remote is not started");

    /// <summary>Process id of the child.</summary>
    public int ProcessId { get; private set; }

    /// <summary>True once the child has exited.</summary>
    public bool HasExited => _exitCode is not null || _exited.IsCancellationRequested || _process.HasExited;

    /// <summary>The child's exit code, once it has exited (kept after Dispose).</summary>
    public int? ExitCode => _exitCode ?? (Volatile.Read(ref _disposed) == 0 && _process.HasExited ? _process.ExitCode : null);

    /// <summary>The remote's endpoints as it reported them at start: "echo", "sink", "command" (name to address).</summary>
    public IReadOnlyDictionary<string, uint> RemoteEndpoints => _endpoints;

    /// <summary>Address of the remote's command endpoint (the source of <c>send</c> commands; it echoes).</summary>
    public uint CommandEndpointAddress => _endpoints.TryGetValue("command", out uint a) ? a : throw new InvalidOperationException("the remote reported no command endpoint");

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
    public event Action<SimulatedRemoteProcess>? Exited;

    /// <summary>Starts the child and sets up the host side; all or nothing (a failure cleans up before it throws).</summary>
    /// <exception cref="TimeoutException">The child did not connect or say READY within the start timeout.</exception>
    /// <exception cref="InvalidOperationException">The child exited before it was ready (its last stderr line says why).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (everything is cleaned up).</exception>
    public static SimulatedRemoteProcess Start(SimulatedRemoteProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SimulatedRemoteProcessOptions();
        if (!options.SharedMemoryPrefix.Contains("vrpmsg-", StringComparison.Ordinal))
            throw new ArgumentException($"SharedMemoryPrefix '{options.SharedMemoryPrefix}' must contain \"vrpmsg-\"", nameof(options));
        string unique = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");
        string path = Path.Combine(options.SharedMemoryDirectory, options.SharedMemoryPrefix + unique + ".shm");
        string socket = "vrpmsg-remote-" + unique;
        var description = PlatformDescription.SimulatedDefault(path);
        DescriptorListener? listener = null;
        SimulatedRemoteProcess? self = null;
        try
        {
            listener = DescriptorListener.Listen(socket);
            var resources = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            try
            {
                self = new SimulatedRemoteProcess(options, path, new Process { StartInfo = BuildStartInfo(options, path, socket) });
            }
            catch
            {
                resources.Dispose();
                throw;
            }
            self._resources = resources;
            self.Launch();
            self.Connect(listener, cancellationToken);
            return self;
        }
        catch
        {
            self?.Dispose();
            TryDelete(path);
            throw;
        }
        finally
        {
            listener?.Dispose();
        }
    }

    private static ProcessStartInfo BuildStartInfo(SimulatedRemoteProcessOptions options, string path, string socket)
    {
        var args = new List<string> { "remote", "--shm", path, "--passing", socket, "--services", ServicesArgument(options.Services), "--wait", WaitArgument(options.RemoteWaitStrategy) };
        args.AddRange(options.ExtraArguments);
        ProcessStartInfo psi;
        if (options.StartInfoFactory is { } factory)
        {
            psi = factory(args);
        }
        else
        {
            string cli = options.CliAssemblyPath ?? Path.Combine(AppContext.BaseDirectory, "rpmsg.dll");
            if (!File.Exists(cli))
                throw new FileNotFoundException($"The rpmsg CLI assembly that runs the simulated remote was not found at '{cli}' (set SimulatedRemoteProcessOptions.CliAssemblyPath).", cli);
            psi = new ProcessStartInfo(DotnetHost());
            psi.ArgumentList.Add(cli);
            foreach (var a in args)
                psi.ArgumentList.Add(a);
        }
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        return psi;
    }

    private static string DotnetHost()
    {
        // Under `dotnet test` / `dotnet app.dll` this process is the muxer itself; under an apphost, use PATH.
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
            return current;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
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

    private static string WaitArgument(RpmsgWaitStrategy strategy) => strategy switch
    {
        RpmsgWaitStrategy.Interrupt => "interrupt",
        RpmsgWaitStrategy.BusyPoll => "poll",
        RpmsgWaitStrategy.Hybrid => "hybrid",
        _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "the simulated remote runs its own dispatcher: interrupt, poll or hybrid"),
    };

    private void Launch()
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

    private void Connect(DescriptorListener listener, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var resources = _resources!;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_exited.Token, cancellationToken);
        try
        {
            _connection = listener.Accept(_options.StartTimeout, linked.Token);
            _doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { Passing = _connection, Timeout = _options.StartTimeout, CancellationToken = linked.Token });
        }
        catch (OperationCanceledException) when (_exited.IsCancellationRequested)
        {
            throw ExitedEarly();
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the simulated remote (pid {ProcessId}) did not connect to '@{listener.Name}' within {_options.StartTimeout.TotalSeconds} s; stderr: {LastStderrLine()}");
        }
        ReadUntilReady(_options.StartTimeout - deadline.Elapsed, cancellationToken);
        // Both processes have the file mapped: the name is no longer needed, and an unlinked file cannot be leaked.
        TryDelete(SharedMemoryPath);
        resources.LoadResourceTable();
        _host = RpmsgDevice.CreateHost(resources.CreateRpmsgLayout(), resources.CreateVdevControl(), _doorbell, _options.HostOptions);
        if (HasExited)
            OnExited();
    }

    private void ReadUntilReady(TimeSpan timeout, CancellationToken cancellationToken)
    {
        while (true)
        {
            string line = ReadLine(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout, "READY", cancellationToken);
            if (line == "READY")
                return;
            // "ENDPOINT name 0xADDR" lines come before READY.
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 3 && words[0] == "ENDPOINT" && words[2].StartsWith("0x", StringComparison.Ordinal)
                && uint.TryParse(words[2].AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint address))
                _endpoints[words[1]] = address;
        }
    }

    private string ReadLine(TimeSpan timeout, string waitingFor, CancellationToken cancellationToken = default)
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

    private InvalidOperationException ExitedEarly()
    {
        _process.WaitForExit(5000);
        string code = _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "unknown";
        return new InvalidOperationException($"the simulated remote (pid {ProcessId}) exited with code {code}: {LastStderrLine()}");
    }

    private string LastStderrLine()
    {
        var lines = StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(nothing on stderr)" : lines[^1];
    }

    /// <summary>
    /// Sends one command of the remote's line protocol (<see cref="SimulatedRemoteCommands"/>) and returns
    /// the reply's detail (after "OK"). One command at a time; thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">The remote answered ERR (the message has its reason) or exited.</exception>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/> (default 10 s).</exception>
    public string Command(string line, TimeSpan? timeout = null)
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
            string reply = ReadLine(timeout ?? TimeSpan.FromSeconds(10), $"reply to '{line}'");
            if (reply == "OK")
                return "";
            if (reply.StartsWith("OK ", StringComparison.Ordinal))
                return reply[3..];
            throw new InvalidOperationException($"the simulated remote refused '{line}': {(reply.StartsWith("ERR ", StringComparison.Ordinal) ? reply[4..] : reply)}");
        }
    }

    /// <summary>Kills the child at once (SIGKILL, as a crash would) and waits for it.</summary>
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

    /// <summary>Waits for the child to exit; false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    private void OnExited()
    {
        if (!_exited.IsCancellationRequested)
        {
            try
            {
                _exited.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
        var host = _host;
        if (host is not null && _options.StopHostWhenRemoteExits)
        {
            string code = _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "unknown";
            host.Stop($"the simulated remote (pid {ProcessId}) exited with code {code}");
        }
        if (host is not null && Interlocked.Exchange(ref _exitedRaised, 1) == 0)
        {
            try
            {
                Exited?.Invoke(this);
            }
            catch (Exception)
            {
                // A subscriber's failure must not take the process down from a thread-pool thread.
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: reported by whoever checks /dev/shm.
        }
    }

    /// <summary>Stops the host device, closes the child's stdin, kills it after <see cref="SimulatedRemoteProcessOptions.ExitTimeout"/>, unmaps and deletes the file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _host?.Dispose();
        bool started = ProcessId != 0;
        if (started)
        {
            try
            {
                // The remote exits on stdin EOF; kill it only if it does not.
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
            if (!_process.WaitForExit(_options.ExitTimeout))
                Kill();
            _process.WaitForExit();
            _exitCode = _process.ExitCode;
        }
        _doorbell?.Dispose();
        _connection?.Dispose();
        _resources?.Dispose();
        TryDelete(SharedMemoryPath);
        _process.Dispose();
        _exited.Dispose();
    }
}
