using System.Diagnostics;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Returns the host's tx buffers late: a thread that polls the caller-polled remote of <see cref="RpmsgLoopback"/>
/// only when another host sender has begun waiting for a tx buffer (<see cref="RpmsgCounters.TxBufferWaits"/> grew),
/// so a sender on a small ring keeps running out. A caller-polled host is polled after the remote (its Poll wakes
/// the waiting sender). Allocates nothing per poll, so it can run beside an allocation count.
/// </summary>
internal sealed class LateReturner : IDisposable
{
    private readonly RpmsgLoopback _loop;
    private readonly Thread _thread;
    private volatile bool _stop;
    private Exception? _failure;
    private long _rescues;

    /// <summary>Polls made because a sender waited 200 ms without a new wait being counted.</summary>
    internal long Rescues => Interlocked.Read(ref _rescues);

    internal LateReturner(RpmsgLoopback loop)
    {
        _loop = loop;
        _thread = new Thread(Run) { IsBackground = true, Name = "late-returner" };
        _thread.Start();
    }

    private void Run()
    {
        try
        {
            bool pollHost = _loop.Host.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll;
            long seen = _loop.Host.Counters.TxBufferWaits;
            long quietSince = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            while (!_stop)
            {
                long waits = _loop.Host.Counters.TxBufferWaits;
                if (waits == seen)
                {
                    // A sender that has waited this long without a new wait being counted: poll anyway (counted in
                    // Rescues). Seen twice in about ten loaded runs of the suite as a 30-s send timeout (not
                    // reproduced alone); this keeps such a miss from failing an allocation test.
                    if (_loop.Host.Tx.Waiters > 0 && Stopwatch.GetElapsedTime(quietSince) > TimeSpan.FromMilliseconds(200))
                    {
                        Interlocked.Increment(ref _rescues);
                        seen = -1;
                        continue;
                    }
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                seen = waits;
                quietSince = Stopwatch.GetTimestamp();
                _loop.Remote.Poll();
                if (pollHost)
                    _loop.Host.Poll();
            }
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    /// <summary>Rethrows what stopped the thread, if anything did.</summary>
    internal void ThrowIfFailed()
    {
        if (_failure is { } e)
            throw new InvalidOperationException("the late returner failed", e);
    }

    public void Dispose()
    {
        _stop = true;
        if (!_thread.Join(TimeSpan.FromSeconds(30)))
            throw new TimeoutException("the late returner did not stop");
    }
}
