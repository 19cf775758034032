using System.IO.Pipelines;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The reader scheduler of <see cref="RpmsgDuplexPipe"/>'s pipes: runs a continuation inline on the thread
/// that flushed (no thread-pool hop per message), except on a thread dispatching for the device (the
/// dispatcher, or inside a Poll), where it goes to the thread pool: a pump or an application continuation
/// must never run on, or block, the thread that delivers every endpoint's messages.
/// </summary>
internal sealed class RpmsgPipeScheduler(RpmsgDevice device) : PipeScheduler
{
    /// <inheritdoc />
    public override void Schedule(Action<object?> action, object? state)
    {
        if (device.IsDispatcherContext)
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        else
            action(state);
    }
}
