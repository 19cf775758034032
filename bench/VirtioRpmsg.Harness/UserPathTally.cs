using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// One user path's case in one wait mode, measured in blocks that take turns with the other paths' blocks
/// (<see cref="CrossProcessEchoScenario.RunUserPaths"/>): their latencies in one recorder, the allocation of the block
/// that allocated least, the first failure, and the placement probes around the first and the last block.
/// </summary>
/// <remarks>
/// Allocation is counted for the whole host process, so a one-off there (a thread-pool thread starting, the runtime's
/// tiered compilation) lands in whichever block it happens in; an allocation per message shows in every block. The
/// fewest bytes per message of the blocks is the case's figure (the tests' best of three rounds).
/// </remarks>
internal sealed class UserPathTally(UserPath path, RpmsgWaitStrategy wait, int payloadSize)
{
    private double _fewestPerMessage = double.PositiveInfinity;

    public UserPath Path => path;

    /// <summary>Every block's recorded round trips.</summary>
    public LatencyRecorder Recorder { get; } = new();

    /// <summary>Why a block failed (the case's later blocks are skipped); null while none did.</summary>
    public string? Failure { get; set; }

    /// <summary>The probe before the first block.</summary>
    public IReadOnlyList<BaselineResult>? Before { get; set; }

    /// <summary>The host's idle CPU, when a block measured it.</summary>
    public double? IdleCpu { get; set; }

    /// <summary>Adds a block's allocations: <paramref name="perMessage"/> bytes per round trip.</summary>
    public void Allocated(double perMessage) => _fewestPerMessage = Math.Min(_fewestPerMessage, perMessage);

    /// <summary>Bytes per message of the block that allocated least; 0 before any block was measured.</summary>
    public double AllocatedBytesPerMessage => double.IsPositiveInfinity(_fewestPerMessage) ? 0 : _fewestPerMessage;

    /// <summary>The case over all its blocks.</summary>
    public UserPathResult Result(PlacementProbe? probe) => Failure is not null
        ? UserPathResult.Failed(path, wait, payloadSize, Failure) with { Probe = probe }
        : new UserPathResult(path, wait, payloadSize, Recorder.Summarize(), AllocatedBytesPerMessage, IdleCpu, Probe: probe);
}
