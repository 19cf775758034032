namespace VirtioRpmsg.Simulation;

/// <summary>The services a <see cref="SimulatedRemote"/> announces through the name service.</summary>
[Flags]
public enum SimulatedServices
{
    /// <summary>No service: only the command endpoint.</summary>
    None = 0,

    /// <summary>"rpmsg-echo": every message goes back to its source, unchanged.</summary>
    Echo = 1,

    /// <summary>"rpmsg-sink": messages are counted and dropped (one-way throughput).</summary>
    Sink = 2,
}
