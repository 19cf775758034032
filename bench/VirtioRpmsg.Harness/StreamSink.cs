using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The remote side of a stream run: counts messages and notes when the expected number arrived.</summary>
internal sealed class StreamSink(int cpu)
{
    private readonly ManualResetEventSlim _done = new();
    private bool _pinned;
    private long _received;
    private long _expected = long.MaxValue;

    public long CompletedAt { get; private set; }

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Expects <paramref name="count"/> more messages (call before sending them).</summary>
    public void Expect(long count)
    {
        _done.Reset();
        Interlocked.Exchange(ref _expected, Received + count);
    }

    public bool WaitDone(TimeSpan timeout, CancellationToken cancellationToken) => _done.Wait(timeout, cancellationToken);

    public void OnMessage(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload)
    {
        if (!_pinned)
        {
            _pinned = true;
            CpuAffinity.PinCurrentThread(cpu);
        }
        if (Interlocked.Increment(ref _received) == Interlocked.Read(ref _expected))
        {
            CompletedAt = Stopwatch.GetTimestamp();
            _done.Set();
        }
    }
}
