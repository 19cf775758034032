namespace VirtioRpmsg.Lifecycle;

/// <summary>Why a <see cref="RemoteProcessor"/> session is torn down; decides what the remote is told.</summary>
internal enum TeardownKind
{
    /// <summary>Stop: the remote is powered off after the local teardown.</summary>
    Stop,
    /// <summary>Detach: the vdev is reset and the remote told, it keeps running.</summary>
    Detach,
    /// <summary>Crash: the remote is gone; it is told nothing (it never sends its name-service destroys).</summary>
    Crash,
    /// <summary>A boot, attach or recovery failed half-way.</summary>
    Failed,
    /// <summary>An attach (or attach-mode recovery) failed half-way: the remote runs on, and what the host wrote into its table is taken back.</summary>
    FailedAttach,
}
