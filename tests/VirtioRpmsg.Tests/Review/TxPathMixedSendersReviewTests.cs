using System.Buffers.Binary;
using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (txpath): every kind of send at once from many threads over a small ring, in both roles, with sends
/// cancelled or timing out while they wait and zero-copy buffers given back unsent: every send reported done arrives
/// once, none reported failed arrives, and afterwards no sender waits and every tx buffer can be taken again.
/// </summary>
public class TxPathMixedSendersReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AllSendKinds_ManyThreads_SmallRing_EveryReportedSendArrivesOnce(bool fromHost)
    {
        const int threads = 6;
        const int perThread = 3000;
        using var loop = RpmsgLoopback.Create(vringNum: 16);
        var sender = fromHost ? loop.Host : loop.Remote;
        var receiver = fromHost ? loop.Remote : loop.Host;
        var seen = new int[threads, perThread];
        long arrived = 0;
        var sink = receiver.CreateEndpoint(0x600, (_, _, payload) =>
        {
            int t = BinaryPrimitives.ReadInt32LittleEndian(payload);
            int i = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            Interlocked.Increment(ref seen[t, i]);
            Interlocked.Increment(ref arrived);
            if ((i & 63) == 0)
                Thread.SpinWait(2000); // a slow receiver now and then: senders wait for buffers
        });
        var ept = sender.CreateEndpoint(0x700, sink.Address);
        var done = new bool[threads, perThread];
        var errors = new ConcurrentQueue<Exception>();
        long cancelled = 0, timedOut = 0, givenBack = 0;

        async Task Run(int t)
        {
            var msg = new byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(msg, t);
            for (int i = 0; i < perThread; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(msg.AsSpan(4), i);
                try
                {
                    switch ((t + i) % 6)
                    {
                        case 0:
                            ept.Send(msg, Bound);
                            break;
                        case 1:
                            await ept.SendAsync(msg.ToArray());
                            break;
                        case 2:
                        {
                            // Cancelled at some point of its wait (or before, or never).
                            using var cts = new CancellationTokenSource();
                            var send = ept.SendToAsync(sink.Address, msg.ToArray(), cts.Token);
                            if ((i & 1) == 0)
                                cts.Cancel();
                            await send;
                            break;
                        }
                        case 3:
                            // Times out when no buffer comes back within a millisecond.
                            ept.SendTo(sink.Address, msg, TimeSpan.FromMilliseconds(1));
                            break;
                        case 4:
                            SendZeroCopy(ept, msg);
                            break;
                        default:
                            // A zero-copy buffer taken and given back unsent, then this message as a try.
                            if (TakeAndGiveBack(ept))
                                Interlocked.Increment(ref givenBack);
                            while (!ept.TrySendTo(sink.Address, msg))
                                Thread.Yield();
                            break;
                    }
                    done[t, i] = true;
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                }
                catch (TimeoutException)
                {
                    Interlocked.Increment(ref timedOut);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                    return;
                }
            }
        }

        var runs = Enumerable.Range(0, threads).Select(t => Task.Run(() => Run(t))).ToArray();
        await Task.WhenAll(runs).WaitAsync(Bound * 2);
        Assert.True(errors.IsEmpty, string.Join("\n", errors));
        long expected = 0;
        for (int t = 0; t < threads; t++)
            for (int i = 0; i < perThread; i++)
                expected += done[t, i] ? 1 : 0;
        loop.WaitUntil(() => Interlocked.Read(ref arrived) >= expected, $"{expected} messages to arrive (now {Interlocked.Read(ref arrived)})");
        for (int t = 0; t < threads; t++)
            for (int i = 0; i < perThread; i++)
                Assert.True(seen[t, i] == (done[t, i] ? 1 : 0), $"thread {t} message {i}: reported {(done[t, i] ? "sent" : "not sent")}, arrived {seen[t, i]} times");
        Assert.Equal(0, sender.Tx.Waiters);
        Assert.Equal(0, sender.Tx.SignalSleepers);
        // Every tx buffer comes back and can be taken again: none leaked, none handed out twice.
        int capacity = 16;
        var taken = new List<RpmsgBufferRef>();
        loop.WaitUntil(() =>
        {
            while (sender.Tx.TryAcquire(out var buffer))
                taken.Add(buffer);
            return taken.Count >= capacity;
        }, $"all {capacity} tx buffers free again (took {taken.Count})");
        Assert.Equal(capacity, taken.Select(b => b.Id).Distinct().Count());
        Assert.False(sender.Tx.TryAcquire(out _));
        string stats = $"sent {expected}, given back {givenBack}, cancelled {cancelled}, timed out {timedOut}, waits {sender.Counters.TxBufferWaits}";
        Assert.True(expected > 0 && givenBack > 0 && sender.Counters.TxBufferWaits > 0, stats);
    }

    private static void SendZeroCopy(RpmsgEndpoint ept, byte[] msg)
    {
        var buffer = ept.GetTxBuffer(Bound);
        try
        {
            msg.CopyTo(buffer.Span);
            buffer.Send(msg.Length);
        }
        finally
        {
            buffer.Dispose();
        }
    }

    private static bool TakeAndGiveBack(RpmsgEndpoint ept)
    {
        if (!ept.TryGetTxBuffer(out var buffer))
            return false;
        buffer.Span[0] = 0xEE;
        buffer.Dispose();
        return true;
    }
}
