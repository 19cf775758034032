namespace VirtioRpmsg.Harness;

/// <summary>The ways an application receives, each measured by <c>rpmsg bench</c> side by side (docs/benchmarks.md, "User paths").</summary>
public enum UserPath
{
    /// <summary>A receive callback on the dispatcher thread (the benchmark harness's own echo client): the reference.</summary>
    Callback,
    /// <summary>A queue endpoint read with the blocking <c>Receive</c> on an application thread.</summary>
    Receive,
    /// <summary>A queue endpoint read with <c>await ReceiveAsync</c> (with a cancellable token).</summary>
    ReceiveAsync,
    /// <summary><c>RpmsgStream</c> Write then Read on an application thread.</summary>
    Stream,
    /// <summary><c>RpmsgDuplexPipe</c>: Output.WriteAsync (flushes), Input.ReadAsync.</summary>
    Pipe,
    /// <summary>
    /// A queue endpoint read with <c>TryReceive</c> between the application thread's own <c>Poll</c> calls: a
    /// <see cref="VirtioRpmsg.Rpmsg.RpmsgWaitStrategy.CallerPoll"/> device, which has no dispatcher thread (as
    /// <c>rpmsg ping --wait poll</c> does, but without ever pausing: a busy-poll measurement). Under CallerPoll the
    /// callback path runs inside the Poll calls of a harness thread pinned to the host's CPU.
    /// </summary>
    Poll,
    /// <summary>
    /// Zero-copy both ways in a zero-copy receive handler: the echo read in place (<c>RpmsgRxBuffer.Open</c>), the next
    /// request written into a tx buffer in place (<c>TryGetTxBuffer</c>, <c>Send</c>); on the dispatcher thread, or
    /// inside the application thread's <c>Poll</c> under CallerPoll.
    /// </summary>
    ZeroCopy,
}
