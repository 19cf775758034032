using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The queue's ring of slots (RpmsgEndpointQueue.Slots.cs): order kept across wrap-around and growth, the arrays an
/// idle queue keeps bounded, and no message queued once it is closed (also by a close racing the writer).
/// </summary>
public class RpmsgEndpointQueueSlotsTests
{
    private static byte[] Numbered(int n, int size = 8)
    {
        var payload = new byte[size];
        BitConverter.TryWriteBytes(payload, n);
        return payload;
    }

    [Fact]
    public void Messages_AcrossWrapAroundAndGrowth_AreReadInOrder()
    {
        var queue = new RpmsgEndpointQueue(100);
        var buffer = new byte[16];
        int written = 0, read = 0;
        void Write(int count)
        {
            for (int i = 0; i < count; i++)
                Assert.True(queue.TryEnqueue((uint)written, Numbered(written++)));
        }
        void Read(int count)
        {
            for (int i = 0; i < count; i++)
            {
                Assert.True(queue.TryDequeue(buffer, out var r));
                Assert.Equal((uint)read, r.Source);
                Assert.Equal(read++, BitConverter.ToInt32(buffer));
            }
        }
        Write(10);
        Read(5);
        Write(14);  // wraps round the first 16 slots
        Write(40);  // grows twice with the queued ones starting mid-ring
        Read(30);
        Write(71);  // up to the capacity of 100
        Assert.Equal(100, queue.Count);
        Assert.False(queue.TryEnqueue(999, Numbered(999)));
        Read(100);
        Assert.False(queue.TryDequeue(buffer, out _));
        Assert.Equal(135, written);
    }

    [Fact]
    public void IdleQueue_AfterADeepBurst_KeepsOnlyTheRetainedSlotsArrays()
    {
        var queue = new RpmsgEndpointQueue(256);
        for (int i = 0; i < 200; i++)
            Assert.True(queue.TryEnqueue(1, Numbered(i, 64)));
        Assert.Equal(200, queue.HeldArrays);
        var buffer = new byte[64];
        while (queue.TryDequeue(buffer, out _))
        {
        }
        Assert.InRange(queue.HeldArrays, 0, RpmsgEndpointQueue.RetainedSlots);
    }

    [Fact]
    public void ReadersTakingAsTheRingGrows_TheKeptArraysOfFreedSlots_AreNotCarriedPastTheFirstSlots()
    {
        // Readers may take between the writer's look at a full ring and its growth: the slots they free (the first
        // ones, which keep their arrays) would land past the first slots of the grown ring and stay held when idle.
        var queue = new RpmsgEndpointQueue(64);
        var buffer = new byte[64];
        for (int i = 0; i < 16; i++)
            Assert.True(queue.TryEnqueue(1, Numbered(i, 64)));
        queue.BeforeGrow = () =>
        {
            for (int i = 0; i < RpmsgEndpointQueue.RetainedSlots; i++)
                Assert.True(queue.TryDequeue(buffer, out _));
        };
        Assert.True(queue.TryEnqueue(1, Numbered(16, 64)));
        queue.BeforeGrow = null;
        for (int expected = RpmsgEndpointQueue.RetainedSlots; expected <= 16; expected++)
        {
            Assert.True(queue.TryDequeue(buffer, out _));
            Assert.Equal(expected, BitConverter.ToInt32(buffer));
        }
        Assert.InRange(queue.HeldArrays, 0, RpmsgEndpointQueue.RetainedSlots);
    }

    [Fact]
    public void LargeMessage_IsNotKeptOnceRead()
    {
        var queue = new RpmsgEndpointQueue(4);
        Assert.True(queue.TryEnqueue(1, new byte[RpmsgEndpointQueue.RetainedArrayBytes + 1]));
        Assert.True(queue.TryDequeue(new byte[1024], out _));
        Assert.Equal(0, queue.HeldArrays);
        Assert.True(queue.TryEnqueue(1, new byte[16]));
        Assert.True(queue.TryDequeue(new byte[1024], out _));
        Assert.Equal(1, queue.HeldArrays); // the first slot keeps a small one
    }

    [Fact]
    public void KeptArray_TooSmallForTheNextMessage_IsReplaced_AndTheMessageArrivesWhole()
    {
        var queue = new RpmsgEndpointQueue(4);
        var buffer = new byte[400];
        Assert.True(queue.TryEnqueue(1, [7, 7, 7]));
        Assert.True(queue.TryDequeue(buffer, out _));
        var big = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        Assert.True(queue.TryEnqueue(2, big));
        Assert.True(queue.TryDequeue(buffer, out var r));
        Assert.Equal(300, r.Length);
        Assert.Equal(big, buffer[..300]);
    }

    [Fact]
    public void Closed_RefusesWritesWithRoomLeft_AndIsClosedOnlyOnceDrained()
    {
        var budget = new RpmsgQueueBudget(1 << 20);
        var queue = new RpmsgEndpointQueue(8, budget);
        Assert.True(queue.TryEnqueue(1, Numbered(1)));
        queue.Close();
        Assert.False(queue.IsClosed); // one message still to read
        Assert.False(queue.TryEnqueue(2, Numbered(2)));
        Assert.Equal(RpmsgQueueBudget.Cost(8), budget.Used); // the refused one was not charged
        Assert.True(queue.TryDequeue(new byte[8], out var r));
        Assert.Equal(1u, r.Source);
        Assert.True(queue.IsClosed);
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void CloseAndDrainRacingTheWriter_NothingIsQueuedAfter_AndTheBudgetComesBackToZero()
    {
        for (int round = 0; round < 200; round++)
        {
            var budget = new RpmsgQueueBudget(1 << 20);
            var queue = new RpmsgEndpointQueue(1024, budget);
            int accepted = 0;
            using var go = new Barrier(2);
            var writer = new Thread(() =>
            {
                go.SignalAndWait();
                for (int i = 0; i < 500; i++)
                {
                    if (queue.TryEnqueue(1, Numbered(i)))
                        accepted++;
                }
            });
            writer.Start();
            go.SignalAndWait();
            int read = 0;
            var buffer = new byte[8];
            for (int i = 0; i < round % 7; i++)
                read += queue.TryDequeue(buffer, out _) ? 1 : 0;
            queue.Close();
            int drained = queue.Drain(); // the writer may still be writing: nothing it writes from now on is queued
            writer.Join();
            Assert.Equal(0, queue.Count);
            Assert.Equal(accepted, read + drained);
            Assert.Equal(0, budget.Used);
            Assert.True(queue.IsClosed);
            Assert.False(queue.TryEnqueue(1, Numbered(0)));
        }
    }

    [Fact]
    public void OneWriterTwoReaders_WhileTheRingGrows_EveryMessageOnce_EachReaderInOrder()
    {
        const int Count = 50_000;
        var queue = new RpmsgEndpointQueue(1024);
        using var deep = new ManualResetEventSlim();
        var writer = new Thread(() =>
        {
            for (int i = 0; i < Count; i++)
            {
                while (!queue.TryEnqueue(1, Numbered(i)))
                    Thread.Yield();
                if (i == 500)
                    deep.Set(); // the readers start on a ring grown past its first slots
            }
            queue.Close();
        });
        List<int> Read()
        {
            deep.Wait();
            var got = new List<int>();
            var buffer = new byte[8];
            while (!queue.IsClosed)
            {
                if (queue.TryDequeue(buffer, out _))
                    got.Add(BitConverter.ToInt32(buffer));
                else
                    Thread.Yield();
            }
            return got;
        }
        var a = Task.Factory.StartNew(Read, TaskCreationOptions.LongRunning);
        var b = Task.Factory.StartNew(Read, TaskCreationOptions.LongRunning);
        writer.Start();
        writer.Join();
        Assert.True(Task.WaitAll([a, b], TimeSpan.FromMinutes(1)));
        foreach (var got in new[] { a.Result, b.Result })
        {
            for (int i = 1; i < got.Count; i++)
                Assert.True(got[i] > got[i - 1], $"reader saw {got[i]} after {got[i - 1]}");
        }
        Assert.Equal(Enumerable.Range(0, Count), a.Result.Concat(b.Result).Order());
    }
}
