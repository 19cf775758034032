using System.Diagnostics;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>Settings of a <see cref="SimulatedRemoteProcess"/>.</summary>
public sealed record SimulatedRemoteProcessOptions
{
    /// <summary>
    /// Path of the CLI assembly (rpmsg.dll) run as <c>dotnet rpmsg.dll remote ...</c>. Default: rpmsg.dll
    /// in <see cref="AppContext.BaseDirectory"/> (next to the entry assembly; a project that references the
    /// CLI project gets it copied there).
    /// </summary>
    public string? CliAssemblyPath { get; init; }

    /// <summary>
    /// Builds the child's start info from the arguments of the <c>remote</c> subcommand (to run it some
    /// other way). Standard input, output and error must be redirected; the launcher sets that.
    /// </summary>
    public Func<IReadOnlyList<string>, ProcessStartInfo>? StartInfoFactory { get; init; }

    /// <summary>Services the remote announces.</summary>
    public SimulatedServices Services { get; init; } = SimulatedServices.Echo;

    /// <summary>Wait strategy of the remote's dispatcher.</summary>
    public RpmsgWaitStrategy RemoteWaitStrategy { get; init; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>Options of the host device (<see cref="SimulatedRemoteProcess.Host"/>).</summary>
    public RpmsgDeviceOptions HostOptions { get; init; } = new() { Name = "host" };

    /// <summary>Folder of the shared-memory file.</summary>
    public string SharedMemoryDirectory { get; init; } = "/dev/shm";

    /// <summary>Start of the shared-memory file's name (made unique with the process id and a random part); must contain "vrpmsg-".</summary>
    public string SharedMemoryPrefix { get; init; } = "vrpmsg-";

    /// <summary>How long the child may take to start and say READY (a cold <c>dotnet</c> start on a busy machine takes seconds).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long Dispose waits for the child to exit on its own before killing it.</summary>
    public TimeSpan ExitTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Stop the host device when the child exits (a crash included): blocked and later sends then fail with
    /// <see cref="RpmsgDeviceUnavailableException"/> instead of waiting for buffers that never come back.
    /// </summary>
    public bool StopHostWhenRemoteExits { get; init; } = true;

    /// <summary>Extra arguments for the remote subcommand (e.g. "--verbose").</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}
