using System.Diagnostics;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>Settings of a <see cref="SimulatedProcessControl"/>.</summary>
public sealed record SimulatedProcessControlOptions
{
    /// <summary>Path of the CLI assembly (rpmsg.dll); default: next to the entry assembly.</summary>
    public string? CliAssemblyPath { get; init; }

    /// <summary>Builds the child's start info from the arguments of the <c>remote</c> subcommand (to run it some other way).</summary>
    public Func<IReadOnlyList<string>, ProcessStartInfo>? StartInfoFactory { get; init; }

    /// <summary>Services the remote announces.</summary>
    public SimulatedServices Services { get; init; } = SimulatedServices.Echo;

    /// <summary>Wait strategy of the remote's dispatcher.</summary>
    public RpmsgWaitStrategy RemoteWaitStrategy { get; init; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>How long a spawned child may take to connect and say READY (a cold <c>dotnet</c> start on a busy machine takes seconds).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long Stop waits for the child to exit on its own (stdin closed) before killing it.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound for a detach/attach command to be answered.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How <see cref="SimulatedProcessControl.InjectCrash"/> makes the child die.</summary>
    public SimulatedCrashMethod CrashMethod { get; init; } = SimulatedCrashMethod.Kill;

    /// <summary>
    /// A child that died (crash) is rebooted by the next <see cref="SimulatedProcessControl.Attach"/>, as a
    /// real core's watchdog would reboot it: a new child is spawned, keeping the resource table in memory
    /// as it is. False: attaching to a dead child throws.
    /// </summary>
    public bool RebootOnAttachAfterCrash { get; init; } = true;

    /// <summary>Extra arguments for the remote subcommand (e.g. "--verbose").</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}
