using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// <see cref="VringKicks"/> under concurrent ringers: one writer at a time at the controller (two words written at once
/// would overwrite one another in a single-register mailbox), and no kick left pending once the controller takes words.
/// </summary>
public sealed class VringKicksConcurrencyTests
{
    private sealed class Sink : IVringSignalSink
    {
        private int _inside;
        public int Overlaps;
        public volatile bool Refuse;
        public long Sent0, Sent1;

        public bool TrySendSignal(uint signal)
        {
            if (Interlocked.Increment(ref _inside) != 1)
                Interlocked.Increment(ref Overlaps);
            try
            {
                if (Refuse)
                    return false;
                Interlocked.Increment(ref signal == 0xA ? ref Sent0 : ref Sent1);
                return true;
            }
            finally
            {
                Interlocked.Decrement(ref _inside);
            }
        }
    }

    [Fact]
    public void ConcurrentRings_OneWriterAtATime_NothingLeftPending()
    {
        var kicks = new VringKicks(0xA, 0xB);
        var sink = new Sink();
        const int PerThread = 50_000;
        using var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < PerThread; i++)
            {
                // Every 64th round the controller is "full" for this ring: the kick must be kept, not dropped.
                if (t == 0)
                    sink.Refuse = (i & 63) == 0;
                kicks.Ring(t & 1, sink);
            }
        })).ToArray();
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)));

        sink.Refuse = false;
        kicks.Flush(sink); // what the next interrupt does

        Assert.Equal(0, sink.Overlaps);
        Assert.Equal(0, kicks.Pending);
        Assert.True(sink.Sent0 > 0 && sink.Sent1 > 0);
    }
}
