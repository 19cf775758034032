using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// The entry point of a simulated remote in its own process: what the child of a <see cref="SimulatedRemoteProcess"/>
/// runs, and what <c>rpmsg remote</c> runs. Any program can host it in one line at the top of <c>Main</c>:
/// <code>
/// if (SimulatedRemoteChild.TryRun(args, out int code)) return code;
/// </code>
/// It maps the shared-memory file, writes the resource table, takes the eventfd doorbells over the host's socket,
/// starts a <see cref="SimulatedRemote"/> (through a <see cref="SimulatedRemoteLink"/>, so a host can detach and
/// re-attach), prints "ENDPOINT name 0xADDR" lines and READY, then answers <see cref="SimulatedRemoteCommands"/>
/// read from the input until it ends or says quit.
/// </summary>
public static class SimulatedRemoteChild
{
    /// <summary>The first argument that selects the entry point (<see cref="TryRun"/>).</summary>
    public const string CommandName = "remote";

    /// <summary>
    /// When <paramref name="args"/> starts with <see cref="CommandName"/>, runs the remote with them and returns
    /// true with its exit code (0; 1 with a one-line reason on stderr on failure); otherwise returns false at once.
    /// </summary>
    public static bool TryRun(string[] args, out int exitCode)
    {
        ArgumentNullException.ThrowIfNull(args);
        exitCode = 0;
        if (args.Length == 0 || args[0] != CommandName)
            return false;
        // SIGTERM/SIGINT/SIGHUP cancel the run, so the finally blocks remove the file and sockets it created.
        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
        try
        {
            exitCode = Run(args, cancellationToken: stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            exitCode = 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{CommandName}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            exitCode = 1;
        }
        return true;
    }

    /// <summary>
    /// Runs the remote with the arguments <see cref="SimulatedRemoteProcess"/> passes:
    /// <c>[remote] [--shm PATH] [--passing NAME] [--services echo,sink|none] [--wait interrupt|poll|hybrid] [--no-stdin] [--platform FILE]</c>
    /// (see <see cref="SimulatedRemoteChildOptions"/>); returns 0 once <paramref name="input"/> (default: stdin)
    /// ends, which happens when the host closes it or dies.
    /// </summary>
    /// <exception cref="ArgumentException">An argument is unknown or lacks its value.</exception>
    /// <exception cref="TimeoutException">The host's socket did not answer within the connect timeout.</exception>
    public static int Run(IReadOnlyList<string> arguments, TextReader? input = null, TextWriter? output = null, CancellationToken cancellationToken = default) =>
        Run(Parse(arguments), input, output, cancellationToken);

    /// <summary>Runs the remote as <paramref name="options"/> say; see <see cref="Run(IReadOnlyList{string}, TextReader?, TextWriter?, CancellationToken)"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (everything is cleaned up).</exception>
    public static int Run(SimulatedRemoteChildOptions options, TextReader? input = null, TextWriter? output = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        input ??= Console.In;
        output ??= Console.Out;
        string shm = options.SharedMemoryPath;
        bool host = options.Passing is not null;
        var description = options.PlatformFile is { } file
            ? PlatformDescription.Load(file) with { Role = PlatformRole.Remote }
            : SimulatedPlatform.RemoteDescription(shm, createFile: !host);
        string[] createdFiles = [];
        var claims = new List<Socket>();
        try
        {
            options.Claiming?.Invoke();
            ClaimSharedFiles(description, claims);
            // Files this run creates (a host's file exists already) are removed on every exit path, SIGTERM included.
            // Listed once the claim is ours: a run the claim refuses must not delete the file its claimant created meanwhile.
            createdFiles = [.. description.Regions
                .Where(r => r.Kind == PlatformRegionKind.ShmFile && r.Create == true && r.Path is not null && !File.Exists(r.Path))
                .Select(r => r.Path!)];
            using var resources = PlatformResources.Open(description, new PlatformOpenOptions { CancellationToken = cancellationToken });
            // The table goes in before the doorbell exchange: a host may read it as soon as it has connected.
            SimulatedRemote.WriteResourceTable(resources);
            var connection = options.Passing is { } passing ? DescriptorPassing.Connect(passing, options.ConnectTimeout, cancellationToken) : null;
            // A standalone remote's eventfd pair comes over a socket it connects itself and keeps: the host keeps
            // its end for the doorbell's life, so the connection's close is how this remote sees the host go away.
            bool standalone = connection is null && description.Doorbell is { Kind: PlatformDoorbellKind.Eventfd, Socket: not null };
            IDoorbell doorbell;
            try
            {
                if (connection is null && description.Doorbell.Kind == PlatformDoorbellKind.Eventfd)
                    output.WriteLine($"waiting for a host on socket @{description.Doorbell.Socket} (Ctrl+C to stop)");
                else if (description.Doorbell.Kind == PlatformDoorbellKind.UnixSocket && description.Doorbell.Mode != DoorbellSocketMode.Client)
                    output.WriteLine($"waiting for a host on socket {description.Doorbell.Path} (Ctrl+C to stop)");
                output.Flush();
                if (standalone)
                    connection = DescriptorPassing.Connect(description.Doorbell.Socket!, Timeout.InfiniteTimeSpan, cancellationToken);
                doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions
                {
                    Passing = connection,
                    Timeout = connection is null ? Timeout.InfiniteTimeSpan : options.ConnectTimeout,
                    CancellationToken = cancellationToken,
                });
            }
            catch
            {
                connection?.Dispose();
                throw;
            }
            // Reading commands, the remote can be detached from and re-attached to (doorbells arrive on the
            // connection, so it is not watched: the input's end ends the remote when the host goes away).
            // Without commands the connection is watched for the host going away.
            // A standalone host cannot re-attach (it sends no further doorbells), so its connection is only watched.
            bool attachable = options.ReadCommands && !standalone;
            using var link = new SimulatedRemoteLink(resources, attachable ? connection : null, new SimulatedRemoteOptions
            {
                Services = options.Services,
                EchoNames = options.EchoNames,
                ExitWhenServicesDestroyed = true,
                WaitStrategy = options.WaitStrategy,
                HostConnection = attachable ? null : connection,
                Logger = options.Logger,
            });
            var remote = link.Start(doorbell);
            output.WriteLine($"ENDPOINT command 0x{remote.CommandEndpoint.Address:X}");
            if (remote.EchoAddress != 0)
                output.WriteLine($"ENDPOINT echo 0x{remote.EchoAddress:X}");
            foreach (string name in options.EchoNames.Skip(1))
                output.WriteLine($"ENDPOINT echo:{name} 0x{remote.NamedAddresses[name]:X}");
            if (remote.SinkAddress != 0)
                output.WriteLine($"ENDPOINT sink 0x{remote.SinkAddress:X}");
            output.WriteLine("READY");
            output.Flush();
            var quit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (options.ReadCommands)
                StartCommandReader(new SimulatedRemoteCommands(link), input, output, quit);
            Task.WaitAny([quit.Task, link.Completion], cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return 0;
        }
        finally
        {
            foreach (string created in createdFiles)
                File.Delete(created);
            foreach (var claim in claims)
                claim.Dispose();
        }
    }

    /// <summary>
    /// Claims every shared-memory file of <paramref name="description"/> for the run, before anything is written: a
    /// description names a fixed file (docs/platforms/simulated.json, the default --shm), and a second remote started
    /// from it would write its resource table over a live session's and wait on that session's socket. The claim is an
    /// abstract Unix socket named after the file, bound and never listened on: it dies with its process (a file a
    /// killed remote left is taken over) and leaves the file to everyone else (a host maps it, a reader reads it).
    /// </summary>
    /// <exception cref="PlatformDescriptionException">Another simulated remote serves one of them (names the region's path).</exception>
    private static void ClaimSharedFiles(PlatformDescription description, List<Socket> claims)
    {
        for (int i = 0; i < description.Regions.Count; i++)
        {
            var r = description.Regions[i];
            if (r.Kind != PlatformRegionKind.ShmFile || r.Path is not { } path)
                continue;
            var claim = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                claim.Bind(new UnixDomainSocketEndPoint("\0" + ClaimName(path)));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                claim.Dispose();
                throw new PlatformDescriptionException($"regions[{i}].path", path,
                    "in use by another simulated remote; run each remote (and its host) over a file of its own (another path in a copy of the description; without --platform, `rpmsg remote --shm PATH`)",
                    innerException: e);
            }
            catch
            {
                claim.Dispose();
                throw;
            }
            claims.Add(claim);
        }
    }

    // The abstract socket name that stands for a file: its full path, hashed to fit any path into sun_path (108 bytes).
    // FNV-1a, not a System.Security.Cryptography hash: that loads OpenSSL, which a board's root file system (and the
    // ARM64 smoke test's) may not have; the remote then died at start-up. Two paths of one hash would only share a claim.
    internal static string ClaimName(string path)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(Path.GetFullPath(path)))
            hash = (hash ^ b) * 1099511628211UL;
        return $"vrpmsg-remote-claim:{hash:x16}";
    }

    /// <summary>Reads command lines on a background thread (a blocked read must not keep the process alive); the input's end or "quit" completes <paramref name="quit"/>.</summary>
    private static void StartCommandReader(SimulatedRemoteCommands commands, TextReader input, TextWriter output, TaskCompletionSource quit)
    {
        var reader = new Thread(() =>
        {
            Serve(commands, input, output);
            quit.TrySetResult();
        })
        { IsBackground = true, Name = "remote-commands" };
        reader.Start();
    }

    /// <summary>Answers command lines from <paramref name="input"/> until it ends or says quit.</summary>
    internal static void Serve(SimulatedRemoteCommands commands, TextReader input, TextWriter output)
    {
        try
        {
            string? line;
            while ((line = input.ReadLine()) is not null)
            {
                if (line.Length == 0)
                    continue;
                string reply = commands.Execute(line, out bool quit);
                output.WriteLine(reply);
                output.Flush();
                if (quit)
                    return;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The input went away: the same as its end.
        }
    }

    /// <summary>Parses the <c>remote</c> arguments (the leading <c>remote</c> is optional).</summary>
    /// <exception cref="ArgumentException">An argument is unknown or lacks its value.</exception>
    public static SimulatedRemoteChildOptions Parse(IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var options = new SimulatedRemoteChildOptions();
        var echoNames = new List<string>();
        int i = arguments.Count > 0 && arguments[0] == CommandName ? 1 : 0;
        while (i < arguments.Count)
        {
            string name = arguments[i++];
            if (name == "--no-stdin")
            {
                options = options with { ReadCommands = false };
                continue;
            }
            if (i >= arguments.Count)
                throw new ArgumentException($"argument '{name}' needs a value", nameof(arguments));
            string value = arguments[i++];
            options = name switch
            {
                "--shm" => options with { SharedMemoryPath = value },
                "--passing" => options with { Passing = value },
                "--platform" => options with { PlatformFile = value },
                "--services" => options with
                {
                    Services = TryParseServices(value, out var services, out string? unknown)
                        ? services
                        : throw new ArgumentException($"--services: unknown service '{unknown}' (echo, sink, none)", nameof(arguments)),
                },
                "--wait" => options with { WaitStrategy = ParseWait(value) },
                "--echo" => AddEchoName(options, echoNames, value),
                _ => throw new ArgumentException($"unknown argument '{name}' (expected --shm, --passing, --services, --echo, --wait, --no-stdin, --platform)", nameof(arguments)),
            };
        }
        return echoNames.Count > 0 ? options with { EchoNames = echoNames } : options;
    }

    private static SimulatedRemoteChildOptions AddEchoName(SimulatedRemoteChildOptions options, List<string> names, string name)
    {
        CheckEchoName(name);
        names.Add(name);
        return options;
    }

    /// <summary>Checks an echo service name: 1 to 31 bytes of UTF-8 (the name field holds 32 with its terminator), not given twice is checked at announce.</summary>
    /// <exception cref="ArgumentException">The name is empty or too long.</exception>
    public static void CheckEchoName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int bytes = System.Text.Encoding.UTF8.GetByteCount(name);
        if (bytes == 0 || bytes > 31)
            throw new ArgumentException($"--echo '{name}': a service name is 1 to 31 bytes", nameof(name));
    }

    /// <summary>
    /// Parses a <c>--wait</c> value of the child's command line (interrupt, poll or hybrid); the
    /// <c>rpmsg</c> tool uses the same spelling. Throws <see cref="ArgumentException"/> naming the value otherwise.
    /// </summary>
    public static RpmsgWaitStrategy ParseWait(string value) => value switch
    {
        "interrupt" => RpmsgWaitStrategy.Interrupt,
        "poll" => RpmsgWaitStrategy.BusyPoll,
        "hybrid" => RpmsgWaitStrategy.Hybrid,
        _ => throw new ArgumentException($"--wait '{value}': expected interrupt, poll or hybrid", nameof(value)),
    };

    /// <summary>The <c>--wait</c> spelling of <paramref name="strategy"/> (the inverse of <see cref="ParseWait"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="RpmsgWaitStrategy.CallerPoll"/>: the child always runs its own dispatcher.</exception>
    public static string WaitArgument(RpmsgWaitStrategy strategy) => strategy switch
    {
        RpmsgWaitStrategy.Interrupt => "interrupt",
        RpmsgWaitStrategy.BusyPoll => "poll",
        RpmsgWaitStrategy.Hybrid => "hybrid",
        _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "the simulated remote runs its own dispatcher: interrupt, poll or hybrid"),
    };

    /// <summary>Parses a comma-separated list of echo, sink, none; false with the first unknown name otherwise.</summary>
    public static bool TryParseServices(string text, out SimulatedServices services, out string? unknown)
    {
        ArgumentNullException.ThrowIfNull(text);
        services = SimulatedServices.None;
        unknown = null;
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (name)
            {
                case "echo":
                    services |= SimulatedServices.Echo;
                    break;
                case "sink":
                    services |= SimulatedServices.Sink;
                    break;
                case "none":
                    break;
                default:
                    unknown = name;
                    return false;
            }
        }
        return true;
    }
}
