namespace VirtioRpmsg.Harness;

/// <summary>
/// A way of running the host and the echo remote: in one process on two pinned threads
/// (<see cref="InProcessEchoScenario"/>) or in two processes. Registered by name in a
/// <see cref="ScenarioRegistry"/>; the report runs every registered scenario with the same requests.
/// A scenario is created per report run and disposed afterwards (a child process ends there).
/// </summary>
public interface IEchoScenario : IDisposable
{
    /// <summary>Short name used in tables and on the command line, for example "in-process".</summary>
    string Name { get; }

    /// <summary>One sentence for the report: where each side runs and how they are connected.</summary>
    string Description { get; }

    /// <summary>Measures echo round trips. Bounded: throws <see cref="TimeoutException"/> rather than hang.</summary>
    EchoResult RunEcho(EchoRequest request, CancellationToken cancellationToken = default);

    /// <summary>Measures one-way streaming from host to remote. Bounded like <see cref="RunEcho"/>.</summary>
    StreamResult RunStream(StreamRequest request, CancellationToken cancellationToken = default);
}
