using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>Settings of a <see cref="SimulatedRemoteProcess"/>.</summary>
public sealed record SimulatedRemoteProcessOptions
{
    /// <summary>
    /// The executable and leading arguments of the child; the entry point's own arguments
    /// (<c>remote --shm PATH --passing NAME --services ... --wait ...</c>) follow. The child must run
    /// <see cref="SimulatedRemoteChild.Run(IReadOnlyList{string}, TextReader?, TextWriter?, CancellationToken)"/>
    /// with them. Null (the default): <see cref="CurrentProcessCommand"/>, this very program, which then hosts
    /// the entry point itself: <c>if (SimulatedRemoteChild.TryRun(args, out int code)) return code;</c>.
    /// </summary>
    public IReadOnlyList<string>? RemoteCommand { get; init; }

    /// <summary>Services the remote announces.</summary>
    public SimulatedServices Services { get; init; } = SimulatedServices.Echo;

    /// <summary>Wait strategy of the remote's dispatcher.</summary>
    public RpmsgWaitStrategy RemoteWaitStrategy { get; init; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>Options of the host device made by <see cref="SimulatedRemoteProcess.StartWithHost"/>.</summary>
    public RpmsgDeviceOptions HostOptions { get; init; } = new() { Name = "host" };

    /// <summary>Folder of the shared-memory file made by <see cref="SimulatedRemoteProcess.StartWithHost"/>.</summary>
    public string SharedMemoryDirectory { get; init; } = "/dev/shm";

    /// <summary>Start of that file's name (made unique with the process id and a random part); must contain "vrpmsg-".</summary>
    public string SharedMemoryPrefix { get; init; } = "vrpmsg-";

    /// <summary>How long a child may take to connect and say READY (a cold .NET start on a busy machine takes seconds).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long stop and dispose wait for the child to exit on its own (stdin closed) before killing it.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound for a detach/attach command to be answered.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How <see cref="SimulatedRemoteProcess.InjectCrash"/> makes the child die.</summary>
    public SimulatedCrashMethod CrashMethod { get; init; } = SimulatedCrashMethod.Kill;

    /// <summary>
    /// A child that died (crash) is rebooted by the next <see cref="SimulatedRemoteProcess.Attach"/>, as a
    /// real core's watchdog would reboot it: a new child is spawned, keeping the resource table in memory
    /// as it is. False: attaching to a dead child throws.
    /// </summary>
    public bool RebootOnAttachAfterCrash { get; init; } = true;

    /// <summary>
    /// With <see cref="SimulatedRemoteProcess.StartWithHost"/>: stop the host device when the child exits unless
    /// told to (a crash): blocked and later sends then fail with <see cref="RpmsgDeviceUnavailableException"/>
    /// instead of waiting for buffers that never come back.
    /// </summary>
    public bool StopHostWhenRemoteExits { get; init; } = true;

    /// <summary>Extra arguments for the entry point (e.g. "--no-stdin"; the rpmsg CLI also takes "--verbose").</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>
    /// The command that runs this program again: <see cref="Environment.ProcessPath"/> (an apphost, a
    /// single-file or NativeAOT binary); when that is the <c>dotnet</c> host running an assembly
    /// (<c>dotnet app.dll</c>), the host followed by the entry assembly's path.
    /// </summary>
    /// <exception cref="InvalidOperationException">The path of this process's executable is unknown.</exception>
    public static IReadOnlyList<string> CurrentProcessCommand()
    {
        string self = Environment.ProcessPath
            ?? throw new InvalidOperationException("the path of this process's executable is unknown: set SimulatedRemoteProcessOptions.RemoteCommand");
        // Under the dotnet host the program is the entry assembly, not the host ("dotnet" alone would run nothing);
        // the first command-line argument names it (Assembly.Location would be empty in a single-file or AOT app).
        string[] line = Environment.GetCommandLineArgs();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet" && line.Length > 0 && line[0].EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            return [self, line[0]];
        return [self];
    }
}
