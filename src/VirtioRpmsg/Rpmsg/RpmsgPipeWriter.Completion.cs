using System.Buffers;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

// The writer's end: Complete (the application's, or the pipe's dispose on another thread) against a flush that may be
// under way, what is still sent after it, and what Completion reports when bytes written could not be sent.
internal sealed partial class RpmsgPipeWriter
{
    /// <summary>Sends the rest, waiting for tx buffers as a send does (after <see cref="Complete"/>: once per pipe).</summary>
    private async Task SendWrittenAsync(CancellationToken cancellationToken)
    {
        int mtu = _endpoint.MaxPayload;
        while (!TrySendWritten())
        {
            var chunk = _buffer.AsMemory(_sent, Math.Min(mtu, _written - _sent));
            if (_destination == RpmsgAddress.Any)
                await _endpoint.SendAsync(chunk, cancellationToken).ConfigureAwait(false);
            else
                await _endpoint.SendToAsync(_destination, chunk, cancellationToken).ConfigureAwait(false);
            _sent += chunk.Length;
        }
    }

    /// <summary>
    /// No more writes. What was written but not flushed is still sent (as a pipe's reader would still see it):
    /// at once while tx buffers are free, else in the background until the pipe is disposed;
    /// <see cref="Completion"/> says when. With <paramref name="exception"/> (the writer failed) it is dropped, and
    /// <see cref="Completion"/> faults with an <see cref="IOException"/> saying how many bytes were not sent (the
    /// exception inside it).
    /// </summary>
    public override void Complete(Exception? exception = null)
    {
        if (Interlocked.CompareExchange(ref _completeClaimed, 1, 0) != 0)
        {
            // Another Complete claimed it: return once its flag is up (a few instructions away), so that after any
            // Complete returns, writes are refused, as with a Pipe's writer.
            var spin = new SpinWait();
            while (Volatile.Read(ref _completeCame) == 0)
                spin.SpinOnce();
            return;
        }
        _completeError = exception; // before the flag a flush's end reads it after
        Volatile.Write(ref _completeCame, 1);
        Interlocked.MemoryBarrierProcessWide(); // stands for the flush's fence between its flag and its look at ours
        // A flush still uses the buffer: it completes when it ends (sent, cancelled or failed).
        if (Volatile.Read(ref _flushing) == 0)
            TakeComplete();
    }

    // Complete's job, by whichever of Complete and a flush's end sees both flags first (both may).
    private void TakeComplete()
    {
        if (Interlocked.Exchange(ref _completeTaken, 1) == 0)
            CompleteNow(_completeError);
    }

    private void CompleteNow(Exception? exception)
    {
        if (exception is not null)
        {
            // Dropped with the writer's failure: say so, and how much, as the dispose does (Completion faults).
            int unsent = _written - _sent;
            _sent = _written = 0;
            Finish(unsent == 0 ? null : NotSentError(unsent, exception));
            return;
        }
        try
        {
            if (TrySendWritten())
            {
                Finish(null);
                return;
            }
        }
        catch (Exception e)
        {
            Finish(Unsent(e));
            return;
        }
        _ = SendRestAsync();
    }

    private async Task SendRestAsync()
    {
        try
        {
            await SendWrittenAsync(_stop).ConfigureAwait(false);
            Finish(null);
        }
        catch (OperationCanceledException e) when (_stop.IsCancellationRequested)
        {
            // Say what the dispose cost: a bare "canceled" hid that bytes the application wrote were dropped.
            Finish(new OperationCanceledException(
                $"RpmsgDuplexPipe disposed with {_written - _sent} bytes of Output not sent: no tx buffer came free for them before the dispose",
                e, _stop));
        }
        catch (Exception e)
        {
            Finish(Unsent(e));
        }
    }

    // What the rest's send failed with. The peer withdrew the channel: the exception a send to it throws, and how many
    // bytes were not sent (a flush would have said IsCompleted; after Complete only Completion can say it). Others as thrown.
    private Exception Unsent(Exception e) =>
        WithdrawnByPeer(e) ? WithdrawnError(_written - _sent, (ObjectDisposedException)e) : e;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ObjectDisposedException WithdrawnError(int unsent, ObjectDisposedException sendError) => new(
        sendError.ObjectName,
        $"RpmsgDuplexPipe.Output completed with {unsent} bytes written and not sent: the peer withdrew the channel (its name-service DESTROY) before they could go");

    private void Finish(Exception? error)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
            return;
        var buffer = _buffer;
        _buffer = [];
        ArrayPool<byte>.Shared.Return(buffer);
        if (error is null)
            _completion.TrySetResult();
        else
            _completion.TrySetException(error);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IOException NotSentError(int unsent, Exception exception) => new(
        $"RpmsgDuplexPipe.Output completed with an exception ({exception.GetType().Name}: {exception.Message}): {unsent} bytes written and not flushed were not sent",
        exception);

    private bool IsCompleted => Volatile.Read(ref _completeCame) != 0;

    private void ThrowIfCompleted()
    {
        if (IsCompleted)
            throw new InvalidOperationException("the pipe's output was completed: no more writes or flushes");
    }
}
