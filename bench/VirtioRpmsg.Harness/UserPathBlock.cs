namespace VirtioRpmsg.Harness;

/// <summary>
/// One block of a user-path case (<see cref="UserPathRun"/>): at least <paramref name="Warmup"/> round trips and
/// <paramref name="MinWarmup"/> unrecorded, then <paramref name="Count"/> recorded into <paramref name="Recorder"/>,
/// which the case's other blocks share.
/// </summary>
internal readonly record struct UserPathBlock(int Warmup, TimeSpan MinWarmup, int Count, LatencyRecorder Recorder);
