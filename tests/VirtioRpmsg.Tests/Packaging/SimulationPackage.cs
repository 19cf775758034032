namespace VirtioRpmsg.Tests.Packaging;

/// <summary>The packed VirtioRpmsg.Simulation package (the simulated remotes).</summary>
public sealed class SimulationPackage() : PackedPackage("VirtioRpmsg.Simulation");
