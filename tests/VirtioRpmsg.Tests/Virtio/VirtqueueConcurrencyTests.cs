using System.Collections.Concurrent;
using System.Diagnostics;
using VirtioRpmsg.Tests.Infrastructure;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The concurrency contract: both queue roles are single-owner (one thread at a time, the caller
/// serializes), and <see cref="SynchronizedVirtqueue{TQueue}"/> is the one way to share a queue.
/// </summary>
public class VirtqueueConcurrencyTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SynchronizedQueues_ManyProducersManyReclaimersManyDeviceThreads_EveryTokenReturnedExactlyOnce(bool eventIndex)
    {
        const int Producers = 4;
        const int PerProducer = 25_000;
        const int Total = Producers * PerProducer;
        using var bed = new VringTestBed(64, slots: 64);
        var driver = new SynchronizedVirtqueue<VirtqueueDriver>(bed.CreateDriver(eventIndex));
        var device = new SynchronizedVirtqueue<VirtqueueDevice>(bed.CreateDevice(eventIndex));
        var seen = new int[Total];
        int handled = 0;
        int reclaimed = 0;
        var run = new Workers();

        for (int p = 0; p < Producers; p++)
        {
            int producer = p;
            run.Add(expired =>
            {
                var spin = new SpinWait();
                for (int i = 0; i < PerProducer; i++)
                {
                    int token = producer * PerProducer + i;
                    while (true)
                    {
                        using (var q = driver.Enter())
                        {
                            if (q.Queue.TryAdd(VringTestBed.SlotAddress(token % 64), 64, (token & 1) == 0, token))
                            {
                                q.Queue.KickPrepare();
                                break;
                            }
                        }
                        if (expired())
                            return;
                        spin.SpinOnce(sleep1Threshold: -1);
                    }
                }
            });
        }
        // Two device threads share the device queue: take, push and notify under its gate.
        for (int d = 0; d < 2; d++)
        {
            run.Add(expired =>
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref handled) < Total && !expired())
                {
                    bool took = false;
                    using (var q = device.Enter())
                    {
                        if (q.Queue.TryTakeAvailable(out var chain))
                        {
                            q.Queue.PushUsed(chain.Head, chain[0].Length);
                            q.Queue.NotifyPrepare();
                            took = true;
                        }
                    }
                    if (took)
                        Interlocked.Increment(ref handled);
                    else
                        spin.SpinOnce(sleep1Threshold: -1);
                }
            });
        }
        // Two reclaimers share the used ring through the driver's gate (as the driver-role transport's senders do).
        for (int r = 0; r < 2; r++)
        {
            run.Add(expired =>
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref reclaimed) < Total && !expired())
                {
                    int token;
                    uint length;
                    bool got;
                    using (var q = driver.Enter())
                        got = q.Queue.TryGetUsed(out token, out length);
                    if (!got)
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                        continue;
                    }
                    if ((uint)token >= Total || length != 64)
                        throw new InvalidOperationException($"bad token {token} / length {length}");
                    Interlocked.Increment(ref seen[token]);
                    Interlocked.Increment(ref reclaimed);
                }
            });
        }

        run.RunAndJoin();
        Assert.Equal(Total, reclaimed);
        Assert.All(seen, count => Assert.Equal(1, count));
        Assert.Equal(64, driver.Unsynchronized.FreeCount);
        Assert.False(driver.Unsynchronized.IsBroken);
        Assert.False(device.Unsynchronized.IsBroken);
    }

    [Fact]
    public void Enter_ManyThreads_NoTwoScopesOverlap()
    {
        const int Threads = 6;
        const int PerThread = 200_000;
        using var bed = new VringTestBed(8);
        var gate = new SynchronizedVirtqueue<VirtqueueDriver>(bed.CreateDriver());
        int inside = 0;
        long unguarded = 0; // a plain read-modify-write: only exact if the gate excludes everyone else
        var run = new Workers();
        for (int t = 0; t < Threads; t++)
        {
            run.Add(_ =>
            {
                for (int i = 0; i < PerThread; i++)
                {
                    using var q = gate.Enter();
                    if (Interlocked.Increment(ref inside) != 1)
                        throw new InvalidOperationException("two threads inside the gate at once");
                    unguarded++;
                    Interlocked.Decrement(ref inside);
                }
            });
        }
        run.RunAndJoin();
        Assert.Equal((long)Threads * PerThread, unguarded);
    }

    [Fact]
    public void Enter_QueueThrowsInsideScope_GateIsReleased()
    {
        using var bed = new VringTestBed(8);
        var gate = new SynchronizedVirtqueue<VirtqueueDevice>(bed.CreateDevice());
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            using var q = gate.Enter();
            q.Queue.PushUsed(3, 0); // nothing was taken: misuse, thrown from inside the scope
        });
        var other = new Thread(() =>
        {
            using var q = gate.Enter();
        });
        other.Start();
        Assert.True(other.Join(TimeSpan.FromSeconds(10)), "the gate stayed held after an exception");
    }

    [Fact]
    public void Enter_KickAndReclaimPath_AllocatesNothing()
    {
        using var bed = new VringTestBed(16);
        var driver = new SynchronizedVirtqueue<VirtqueueDriver>(bed.CreateDriver());
        var device = new SynchronizedVirtqueue<VirtqueueDevice>(bed.CreateDevice());
        void RoundTrip()
        {
            // Two buffers per kick, drained in loops: the shape of the transports' batched paths.
            using (var q = driver.Enter())
            {
                for (int i = 0; i < 2; i++)
                    q.Queue.TryAdd(VringTestBed.SlotAddress(i), 64, deviceWritable: true, token: i);
                q.Queue.KickPrepare();
            }
            using (var q = device.Enter())
            {
                while (q.Queue.TryTakeAvailable(out var chain))
                    q.Queue.PushUsed(chain.Head, 8);
                q.Queue.NotifyPrepare();
            }
            using (var q = driver.Enter())
            {
                while (q.Queue.TryGetUsed(out _, out _))
                {
                }
            }
        }
        var allocated = ThreadAllocation.Measure(100, 1000, RoundTrip);
        allocated.AssertNone();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SingleOwner_QueuesHandedBetweenThreads_WorkWithoutAnyGate(bool eventIndex)
    {
        // Single owner means one thread at a time, not one thread forever: ownership handed over with
        // a happens-before edge (here Thread.Join) is enough, with no gate inside either queue.
        using var bed = new VringTestBed(16);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        int expected = 0;
        for (int round = 0; round < 200; round++)
        {
            int r = round;
            RunOn(() =>
            {
                for (int i = 0; i < 4; i++)
                    Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 64, deviceWritable: true, token: r * 4 + i));
                driver.KickPrepare();
            });
            RunOn(() =>
            {
                while (device.TryTakeAvailable(out var chain))
                    device.PushUsed(chain.Head, 16);
                device.NotifyPrepare();
            });
            RunOn(() =>
            {
                for (int i = 0; i < 4; i++)
                {
                    Assert.True(driver.TryGetUsed(out int token, out uint length));
                    Assert.Equal((expected++, 16u), (token, length));
                }
                Assert.False(driver.TryGetUsed(out _, out _));
            });
        }
        Assert.Equal(16, driver.FreeCount);
        Assert.False(driver.IsBroken || device.IsBroken);
    }

    private static void RunOn(Action body) => OtherThread.Run(body, Limit);

    /// <summary>Threads that stop together at the first error or at the time limit.</summary>
    private sealed class Workers
    {
        private readonly List<Thread> _threads = [];
        private readonly ConcurrentQueue<Exception> _errors = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private bool _stop;

        public void Add(Action<Func<bool>> body)
        {
            bool Expired() => Volatile.Read(ref _stop) || _clock.Elapsed > Limit;
            _threads.Add(new Thread(() =>
            {
                try
                {
                    body(Expired);
                }
                catch (Exception e)
                {
                    _errors.Enqueue(e);
                    Volatile.Write(ref _stop, true);
                }
            }) { IsBackground = true });
        }

        public void RunAndJoin()
        {
            foreach (var t in _threads)
                t.Start();
            foreach (var t in _threads)
                Assert.True(t.Join(Limit + TimeSpan.FromSeconds(10)), "a worker thread did not finish");
            Assert.Empty(_errors);
        }
    }
}
