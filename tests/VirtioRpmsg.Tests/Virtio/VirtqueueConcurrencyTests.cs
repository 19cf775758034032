using System.Collections.Concurrent;
using System.Diagnostics;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

public class VirtqueueConcurrencyTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryAddAndKick_ManyProducersOneReclaimer_EveryTokenReturnedExactlyOnce(bool eventIndex)
    {
        const int Producers = 4;
        const int PerProducer = 25_000;
        const int Total = Producers * PerProducer;
        using var bed = new VringTestBed(64, slots: 64);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        var seen = new int[Total];
        var errors = new ConcurrentQueue<Exception>();
        var clock = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(120);
        int reclaimed = 0;
        bool stop = false;

        bool Expired() => Volatile.Read(ref stop) || clock.Elapsed > limit;

        void Guard(Action body)
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
                Volatile.Write(ref stop, true);
            }
        }

        var threads = new List<Thread>();
        for (int p = 0; p < Producers; p++)
        {
            int producer = p;
            threads.Add(new Thread(() => Guard(() =>
            {
                var spin = new SpinWait();
                for (int i = 0; i < PerProducer; i++)
                {
                    int token = producer * PerProducer + i;
                    while (!driver.TryAdd(VringTestBed.SlotAddress(token % 64), 64, (token & 1) == 0, token))
                    {
                        if (Expired())
                            return;
                        spin.SpinOnce(sleep1Threshold: -1);
                    }
                    driver.KickPrepare();
                }
            })));
        }
        // The device: one thread, echoing every chain with its full length.
        threads.Add(new Thread(() => Guard(() =>
        {
            var spin = new SpinWait();
            int handled = 0;
            while (handled < Total && !Expired())
            {
                if (device.TryTakeAvailable(out var chain))
                {
                    device.PushUsed(chain.Head, chain[0].Length);
                    device.NotifyPrepare();
                    handled++;
                }
                else
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
        })));
        // The one reclaimer.
        threads.Add(new Thread(() => Guard(() =>
        {
            var spin = new SpinWait();
            while (reclaimed < Total && !Expired())
            {
                if (driver.TryGetUsed(out int token, out uint length))
                {
                    if ((uint)token >= Total || length != 64)
                        throw new InvalidOperationException($"bad token {token} / length {length}");
                    seen[token]++;
                    reclaimed++;
                }
                else
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
        })));

        foreach (var t in threads)
        {
            t.IsBackground = true;
            t.Start();
        }
        foreach (var t in threads)
            Assert.True(t.Join(limit + TimeSpan.FromSeconds(10)), "a worker thread did not finish");

        Assert.Empty(errors);
        Assert.Equal(Total, reclaimed);
        Assert.All(seen, count => Assert.Equal(1, count));
        Assert.Equal(64, driver.FreeCount);
        Assert.False(driver.IsBroken);
        Assert.False(device.IsBroken);
    }
}
