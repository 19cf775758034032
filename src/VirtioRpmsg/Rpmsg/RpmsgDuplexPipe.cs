using System.Buffers;
using System.IO.Pipelines;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A queue-style endpoint as an <see cref="IDuplexPipe"/> (like Linux's rpmsg tty): what is flushed
/// to <see cref="Output"/> is sent as messages of at most <see cref="RpmsgEndpoint.MaxPayload"/>
/// bytes; received message bytes appear on <see cref="Input"/> in order. A receive pump task moves
/// messages into <see cref="Input"/>; disposing stops it and completes both sides.
/// <para>
/// No thread-pool hop per message. A flush of <see cref="Output"/> sends on the flushing thread (a
/// free tx buffer first; without one it waits asynchronously). A reader's <see cref="Input"/>
/// continuation runs on the receive pump's thread as soon as the pump has written a message, so do
/// not block inside it waiting for more input: the pump that would deliver it is the thread running
/// it. A wait for back-pressure (a full input) still resumes on the thread pool, and the pump never
/// runs a reader on the dispatcher (a parked receive completes on the pool).
/// </para>
/// </summary>
public sealed class RpmsgDuplexPipe : IDuplexPipe, IAsyncDisposable
{
    private readonly Pipe _inbound;
    private readonly RpmsgPipeWriter _output;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _rxPump;
    private int _disposed;

    /// <summary>Starts pumping <paramref name="endpoint"/>'s messages into <see cref="Input"/> and <see cref="Output"/> to <paramref name="destination"/> (default: the endpoint's remote address).</summary>
    public RpmsgDuplexPipe(RpmsgEndpoint endpoint, uint destination = RpmsgAddress.Any)
    {
        Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        // Reader side inline (a hop per message costs more than the round trip); writer side on the pool,
        // so a reader's AdvanceTo never resumes the receive pump (which may spin) on the reader's thread.
        _inbound = new Pipe(new PipeOptions(readerScheduler: new RpmsgPipeScheduler(endpoint.Device), writerScheduler: PipeScheduler.ThreadPool, useSynchronizationContext: false));
        _output = new RpmsgPipeWriter(endpoint, destination, _stop.Token);
        // Under Interrupt its parked receive is waited for on the doorbell (RpmsgDoorbellAsyncHolder), and the pump's
        // continuation, with the reader's after it, runs on that pool thread: no thread of its own per pipe.
        _rxPump = Task.Run(ReceivePumpAsync);
    }

    /// <summary>The endpoint underneath.</summary>
    public RpmsgEndpoint Endpoint { get; }

    /// <summary>Bytes received from the peer.</summary>
    public PipeReader Input => _inbound.Reader;

    /// <summary>Bytes to send: every flush is sent as one or more messages.</summary>
    public PipeWriter Output => _output;

    private async Task ReceivePumpAsync()
    {
        var writer = _inbound.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(Endpoint.MaxPayload);
                var r = await Endpoint.ReceiveAsync(memory, _stop.Token).ConfigureAwait(false);
                writer.Advance(r.Length);
                var flush = await writer.FlushAsync(_stop.Token).ConfigureAwait(false);
                if (flush.IsCompleted)
                    break;
            }
        }
        catch (Exception e)
        {
            error = PumpFailure(e);
        }
        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    // How the pump's end reaches Input: a dispose and a destroyed endpoint end it quietly, anything else fails it. A
    // device that stopped or broke fails it with why, also when the pump's receive began only after that (the device's
    // end destroys the endpoint, and a receive begun then reports that).
    private Exception? PumpFailure(Exception e) => e switch
    {
        OperationCanceledException when _stop.IsCancellationRequested => null,
        ObjectDisposedException when Endpoint.Device.State is RpmsgDeviceState.Stopped or RpmsgDeviceState.Broken => Endpoint.Device.Unavailable(Endpoint.Device.State),
        ObjectDisposedException => null,
        _ => e,
    };

    /// <summary>
    /// Ends once <see cref="Output"/> is completed and everything written to it was sent; faulted with the send's
    /// exception when the rest could not be sent.
    /// </summary>
    public Task Completion => _output.Completion;

    /// <summary>
    /// Completes the output (what was written and not flushed is still sent while tx buffers are free), stops the
    /// receive pump and waits for it; the endpoint is not disposed. A send that fails here is reported by
    /// <see cref="Completion"/>, not thrown. Disposing again does nothing more.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _rxPump.ConfigureAwait(false); // a second dispose, or one racing the first: returns once the pump ended
            return;
        }
        _output.Complete();
        _stop.Cancel();
        await _rxPump.ConfigureAwait(false);
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
