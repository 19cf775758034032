using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// One user path's case in one wait mode, measured in blocks that take turns with the other paths' blocks
/// (<see cref="CrossProcessEchoScenario.RunUserPaths"/>): their latencies in one recorder, their allocations summed,
/// the first failure, and the placement probes around the first and the last block.
/// </summary>
internal sealed class UserPathTally(UserPath path, RpmsgWaitStrategy wait, int payloadSize)
{
    private double _allocatedBytes;
    private long _measured;

    public UserPath Path => path;

    /// <summary>Every block's recorded round trips.</summary>
    public LatencyRecorder Recorder { get; } = new();

    /// <summary>Why a block failed (the case's later blocks are skipped); null while none did.</summary>
    public string? Failure { get; set; }

    /// <summary>The probe before the first block.</summary>
    public IReadOnlyList<BaselineResult>? Before { get; set; }

    /// <summary>The host's idle CPU, when a block measured it.</summary>
    public double? IdleCpu { get; set; }

    /// <summary>Adds a block's allocations: <paramref name="perMessage"/> bytes over <paramref name="count"/> round trips.</summary>
    public void Allocated(double perMessage, int count)
    {
        _allocatedBytes += perMessage * count;
        _measured += count;
    }

    /// <summary>The case over all its blocks.</summary>
    public UserPathResult Result(PlacementProbe? probe) => Failure is not null
        ? UserPathResult.Failed(path, wait, payloadSize, Failure) with { Probe = probe }
        : new UserPathResult(path, wait, payloadSize, Recorder.Summarize(), _measured == 0 ? 0 : _allocatedBytes / _measured, IdleCpu, Probe: probe);
}
