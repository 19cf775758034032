using System.Buffers;
using System.IO.Pipelines;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A queue-style endpoint as an <see cref="IDuplexPipe"/> (like Linux's rpmsg tty): what is flushed
/// to <see cref="Output"/> is sent as messages of at most <see cref="RpmsgEndpoint.MaxPayload"/>
/// bytes; received message bytes appear on <see cref="Input"/> in order. Two pump tasks move the
/// data; disposing stops them and completes both pipes.
/// </summary>
public sealed class RpmsgDuplexPipe : IDuplexPipe, IAsyncDisposable
{
    private readonly Pipe _inbound = new();
    private readonly Pipe _outbound = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly uint _destination;
    private readonly Task _rxPump;
    private readonly Task _txPump;

    /// <summary>Starts pumping <paramref name="endpoint"/>'s messages into <see cref="Input"/> and <see cref="Output"/> to <paramref name="destination"/> (default: the endpoint's remote address).</summary>
    public RpmsgDuplexPipe(RpmsgEndpoint endpoint, uint destination = RpmsgAddress.Any)
    {
        Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        _destination = destination;
        _rxPump = Task.Run(ReceivePumpAsync);
        _txPump = Task.Run(SendPumpAsync);
    }

    /// <summary>The endpoint underneath.</summary>
    public RpmsgEndpoint Endpoint { get; }

    /// <summary>Bytes received from the peer.</summary>
    public PipeReader Input => _inbound.Reader;

    /// <summary>Bytes to send: every flush is sent as one or more messages.</summary>
    public PipeWriter Output => _outbound.Writer;

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
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // Endpoint destroyed: the input ends.
        }
        catch (Exception e)
        {
            error = e;
        }
        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    private async Task SendPumpAsync()
    {
        var reader = _outbound.Reader;
        var scratch = new byte[Endpoint.MaxPayload];
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    var chunk = buffer.Slice(0, Math.Min(scratch.Length, buffer.Length));
                    ReadOnlyMemory<byte> message;
                    if (chunk.IsSingleSegment)
                    {
                        message = chunk.First;
                    }
                    else
                    {
                        chunk.CopyTo(scratch);
                        message = scratch.AsMemory(0, (int)chunk.Length);
                    }
                    // A free buffer first (no async call at all), then the waiting send.
                    bool sent = _destination == RpmsgAddress.Any ? Endpoint.TrySend(message.Span) : Endpoint.TrySendTo(_destination, message.Span);
                    if (!sent && _destination == RpmsgAddress.Any)
                        await Endpoint.SendAsync(message, _stop.Token).ConfigureAwait(false);
                    else if (!sent)
                        await Endpoint.SendToAsync(_destination, message, _stop.Token).ConfigureAwait(false);
                    buffer = buffer.Slice(chunk.End);
                }
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            error = e;
        }
        await reader.CompleteAsync(error).ConfigureAwait(false);
    }

    /// <summary>Waits until everything written to <see cref="Output"/> so far has been sent (after completing the writer).</summary>
    public Task Completion => _txPump;

    /// <summary>Completes the output, stops both pumps and waits for them; the endpoint is not disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        await _outbound.Writer.CompleteAsync().ConfigureAwait(false);
        _stop.Cancel();
        await Task.WhenAll(_rxPump, _txPump).ConfigureAwait(false);
        _stop.Dispose();
    }
}
