using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// The zero-copy user path (<see cref="UserPath.ZeroCopy"/>): a zero-copy receive handler reads each echo in its
/// shared buffer (<see cref="RpmsgRxBuffer.Open"/>) and writes the next request into a tx buffer in place
/// (<see cref="RpmsgEndpoint.TryGetTxBuffer"/>, <see cref="RpmsgTxBuffer.Send"/>), on the device's own thread, as an
/// application that avoids copies writes its handler. Measured like the callback path it is compared with: the
/// handler records each round trip and sends the next; its first call pins its thread to the host's CPU.
/// </summary>
internal sealed class ZeroCopyEcho
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private readonly byte[] _payload;
    private readonly int _cpu;
    private readonly UserPathBlock _block;
    private readonly Warmup _warming;
    private readonly ManualResetEventSlim _done = new();
    private bool _pinned;
    private bool _measuring;
    private int _replies;
    private int _recorded;
    private long _sentAt;
    private long _allocatedBefore;
    private Exception? _failure;

    public ZeroCopyEcho(byte[] payload, UserPathBlock block, int cpu)
    {
        _payload = payload;
        _block = block;
        _cpu = cpu;
        _warming = new Warmup(block.Warmup, block.MinWarmup, Stopwatch.GetTimestamp());
    }

    /// <summary>Bytes allocated per recorded round trip (read once done).</summary>
    public double AllocatedPerMessage { get; private set; }

    /// <summary>True once the block's round trips are recorded (or the handler failed: <see cref="ThrowIfFailed"/>).</summary>
    public bool IsDone => _done.IsSet;

    /// <summary>Waits for the block (a dispatcher thread runs the handler).</summary>
    public bool WaitDone(TimeSpan timeout, CancellationToken cancellationToken) => _done.Wait(timeout, cancellationToken);

    /// <summary>Rethrows the handler's failure, if it had one.</summary>
    public void ThrowIfFailed()
    {
        if (_failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
    }

    /// <summary>Sends the first request from the calling thread; the handler sends the rest.</summary>
    public void Start(RpmsgEndpoint endpoint) => SendNext(endpoint);

    public void OnReply(RpmsgEndpoint endpoint, RpmsgRxBuffer buffer)
    {
        if (_done.IsSet)
            return;
        long now = Stopwatch.GetTimestamp();
        try
        {
            if (!_pinned)
            {
                CpuAffinity.PinCurrentThread(_cpu);
                _pinned = true;
            }
            using (var view = buffer.Open())
            {
                if (!view.Payload.SequenceEqual(_payload))
                    throw new InvalidDataException($"round trip {_replies}: the echo differs from the request ({view.Payload.Length} bytes back for {_payload.Length})");
            }
            _replies++;
            if (_measuring)
            {
                _block.Recorder.RecordTicks(_sentAt, now);
                if (++_recorded == _block.Count)
                {
                    AllocatedPerMessage = (GC.GetTotalAllocatedBytes(precise: true) - _allocatedBefore) / (double)_block.Count;
                    _done.Set();
                    return;
                }
            }
            else if (_warming.IsOver(_replies, now))
            {
                _measuring = true;
                _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            }
            SendNext(endpoint);
        }
        catch (Exception e)
        {
            _failure = e; // the waiting thread reports it; thrown here it would only count as a handler fault
            _done.Set();
        }
    }

    private void SendNext(RpmsgEndpoint endpoint)
    {
        _sentAt = Stopwatch.GetTimestamp();
        if (!endpoint.TryGetTxBuffer(out var tx))
            tx = endpoint.GetTxBuffer(s_timeout);
        try
        {
            _payload.CopyTo(tx.Span);
            tx.Send(_payload.Length);
        }
        finally
        {
            tx.Dispose();
        }
    }
}
