using System.Buffers;
using System.IO.Pipelines;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A queue-style endpoint as an <see cref="IDuplexPipe"/> (like Linux's rpmsg tty): what is flushed
/// to <see cref="Output"/> is sent as messages of at most <see cref="RpmsgEndpoint.MaxPayload"/>
/// bytes; received message bytes appear on <see cref="Input"/> in order (a zero-length message adds none, and
/// wakes no read). Disposing completes both sides.
/// <para>
/// No thread and no thread-pool hop per message. A flush of <see cref="Output"/> sends on the flushing
/// thread (a free tx buffer first; without one it waits asynchronously). A read of <see cref="Input"/>
/// receives on the reading thread, as <see cref="RpmsgEndpoint.ReceiveAsync"/> does (spinning first in
/// the hybrid and busy-poll modes); one that has to wait resumes on the thread that completes the
/// receive, never on the dispatcher. Messages nobody reads yet wait in the endpoint's queue.
/// </para>
/// <para>
/// When the peer withdraws the channel (its name-service DESTROY), <see cref="Input"/> reads what it sent before, then
/// completes; a flush of <see cref="Output"/> returns <see cref="FlushResult.IsCompleted"/> and drops what was written,
/// as a <see cref="Pipe"/>'s writer whose reader completed.
/// </para>
/// </summary>
public sealed class RpmsgDuplexPipe : IDuplexPipe, IAsyncDisposable
{
    private readonly RpmsgPipeReader _input;
    private readonly RpmsgPipeWriter _output;
    private readonly CancellationTokenSource _stop = new();
    private int _disposed;

    /// <summary>Reads <paramref name="endpoint"/>'s messages through <see cref="Input"/> and sends <see cref="Output"/> to <paramref name="destination"/> (default: the endpoint's remote address).</summary>
    public RpmsgDuplexPipe(RpmsgEndpoint endpoint, uint destination = RpmsgAddress.Any)
    {
        Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        _input = new RpmsgPipeReader(endpoint);
        _output = new RpmsgPipeWriter(endpoint, destination, _stop.Token);
    }

    /// <summary>The endpoint underneath.</summary>
    public RpmsgEndpoint Endpoint { get; }

    /// <summary>Bytes received from the peer.</summary>
    public PipeReader Input => _input;

    /// <summary>Bytes to send: every flush is sent as one or more messages.</summary>
    public PipeWriter Output => _output;

    /// <summary>
    /// Ends once <see cref="Output"/> is completed and everything written to it was sent; faulted with the send's
    /// exception when the rest could not be sent (once the peer withdrew the channel: the
    /// <see cref="ObjectDisposedException"/> a send to it throws, its message naming the bytes not sent), with an <see cref="OperationCanceledException"/> naming the bytes a
    /// dispose left unsent, and with an <see cref="IOException"/> naming the bytes <c>Output.Complete(exception)</c>
    /// dropped unflushed (the exception inside it). After <c>Output.Complete</c>, <c>Output.FlushAsync</c> and
    /// <c>Output.Advance(0)</c> do nothing, as a <see cref="Pipe"/>'s writer.
    /// </summary>
    public Task Completion => _output.Completion;

    /// <summary>
    /// Completes the output (what was written and not flushed is still sent while tx buffers are free) and ends the
    /// input: a read waiting for a message returns what was received, completed, and so does every read after it. The
    /// endpoint is not disposed. A send that fails here is reported by <see cref="Completion"/>, not thrown. Disposing
    /// again does nothing more.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _output.Complete();
        _stop.Cancel();
        _input.Stop();
        try
        {
            await _output.Completion.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Reported by Completion; a dispose does not throw it.
        }
        _stop.Dispose();
    }
}
