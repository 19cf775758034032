using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The <see cref="RpmsgStream.ReadAsync(Memory{byte}, CancellationToken)"/> that waits for a message: kept by the
/// stream and reused (a Stream allows one read at a time; the stream refuses a second), with a continuation made once,
/// so a read that waits allocates nothing, in any build (a debug build allocates every async method's state machine
/// per call). The receive completes on the thread pool, where this copies the message out and completes the read
/// inline; a zero-length message starts the next receive instead (0 would end the stream). Not pooled: a repeated
/// <see cref="GetResult"/> returns nothing to any pool, and a stale token is refused by the core.
/// </summary>
internal sealed class RpmsgStreamRead : IValueTaskSource<int>
{
    private readonly RpmsgStream _stream;
    private readonly Action _onReceived;
    private ManualResetValueTaskSourceCore<int> _core;
    private ConfiguredValueTaskAwaitable<RpmsgReceiveResult>.ConfiguredValueTaskAwaiter _receive;
    private Memory<byte> _destination;
    private CancellationToken _caller;

    internal RpmsgStreamRead(RpmsgStream stream)
    {
        _stream = stream;
        _onReceived = OnReceived;
    }

    internal ValueTask<int> Start(ValueTask<RpmsgReceiveResult> receive, Memory<byte> destination, CancellationToken caller)
    {
        _core.Reset();
        _destination = destination;
        _caller = caller;
        short version = _core.Version;
        Await(receive);
        return new ValueTask<int>(this, version);
    }

    private void Await(ValueTask<RpmsgReceiveResult> receive)
    {
        _receive = receive.ConfigureAwait(false).GetAwaiter();
        _receive.UnsafeOnCompleted(_onReceived);
    }

    private void OnReceived()
    {
        int n;
        try
        {
            while (!_stream.Received(_receive.GetResult(), _destination.Span, out n))
            {
                // A zero-length message is no bytes: receive the next, as a result of 0 would end the stream.
                var next = _stream.ReceiveNext(_caller);
                if (!next.IsCompleted)
                {
                    Await(next);
                    return;
                }
                _receive = next.ConfigureAwait(false).GetAwaiter();
            }
        }
        catch (Exception e)
        {
            Finish(0, _stream.IsEndOfStream(e) ? null : _stream.Failure(e, _caller));
            return;
        }
        Finish(n, null);
    }

    private void Finish(int n, Exception? error)
    {
        _destination = default;
        _caller = default;
        _stream.EndRead(); // before the result: its continuation may start the next read
        if (error is null)
            _core.SetResult(n);
        else
            _core.SetException(error);
    }

    public int GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>
/// The <see cref="RpmsgStream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> of several messages whose send
/// waits for a tx buffer: like <see cref="RpmsgStreamRead"/>, reused and allocation-free. Each send completes on a
/// thread-pool thread, where this starts the next.
/// </summary>
internal sealed class RpmsgStreamWrite : IValueTaskSource
{
    private readonly RpmsgStream _stream;
    private readonly Action _onSent;
    private ManualResetValueTaskSourceCore<bool> _core;
    private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _send;
    private ReadOnlyMemory<byte> _rest;
    private CancellationToken _token;
    private int _pending; // 1 from Start to Finish: a second write would take over this object under the first

    internal RpmsgStreamWrite(RpmsgStream stream)
    {
        _stream = stream;
        _onSent = OnSent;
    }

    /// <summary>True while a write waits (the stream refuses another: one write at a time, as for any Stream).</summary>
    internal bool IsPending => Volatile.Read(ref _pending) != 0;

    /// <summary>Waits for <paramref name="send"/>, then sends <paramref name="rest"/>; refused while another write waits.</summary>
    internal ValueTask Start(ValueTask send, ReadOnlyMemory<byte> rest, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _pending, 1) != 0)
            return ValueTask.FromException(_stream.WritePendingError()); // two writers raced past the stream's check
        _core.Reset();
        _rest = rest;
        _token = cancellationToken;
        short version = _core.Version;
        Await(send);
        return new ValueTask(this, version);
    }

    private void Await(ValueTask send)
    {
        _send = send.ConfigureAwait(false).GetAwaiter();
        _send.UnsafeOnCompleted(_onSent);
    }

    private void OnSent()
    {
        try
        {
            _send.GetResult();
            while (!_rest.IsEmpty)
            {
                var send = _stream.SendChunk(ref _rest, _token);
                if (!send.IsCompleted)
                {
                    Await(send);
                    return;
                }
                send.GetAwaiter().GetResult();
            }
        }
        catch (Exception e)
        {
            Finish(_stream.Failure(e, _token)); // a dispose's cancellation is reported as the dispose
            return;
        }
        Finish(null);
    }

    private void Finish(Exception? error)
    {
        _rest = default;
        _token = default;
        Volatile.Write(ref _pending, 0); // before the result: its continuation may start the next write
        if (error is null)
            _core.SetResult(true);
        else
            _core.SetException(error);
    }

    public void GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
