using System.Diagnostics;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A randomized mix of everything that waits for the peer's next rx kick beside spinning readers (hybrid, EVENT_IDX,
/// an IdleRecheckInterval of minutes, so a lost wake-up shows as a long wait): queue readers that spin (their polls
/// take without moving the event) and then sleep, a callback that sends from inside whichever pass takes its message
/// (a reader's or the dispatcher's), application senders blocked on a full tx ring, and the peer flooding a sink.
/// Every wait is timed; the longest must stay far below the idle re-check. A short run here (3 s per role);
/// <c>VRPMSG_STRESS_SECONDS</c> sets a longer one (a soak).
/// </summary>
public class RpmsgReaderPollEventStressTests
{
    private static readonly TimeSpan Run = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("VRPMSG_STRESS_SECONDS"), out int seconds) && seconds > 0 ? seconds : 3);
    // A lost wake-up waits for the idle re-check (10 minutes here); the longest wait seen was 221 ms at a load average of
    // about 8. The bound sits far from both, so it flags a stall, never a slow machine.
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void HybridReadersCallbacksAndFloods_NoWaitReachesTheIdleRecheck(bool readerOnHost)
    {
        Action<RpmsgDeviceOptions> opts = o =>
        {
            o.IdleRecheckInterval = TimeSpan.FromMinutes(10);
            o.WaitStrategy = RpmsgWaitStrategy.Hybrid;
            o.HybridSpin = TimeSpan.FromMicroseconds(150);
            o.SendTimeout = TimeSpan.FromMinutes(5);
        };
        using var loop = RpmsgLoopback.Create(host: opts, remote: opts, vringNum: 16);
        var (a, b) = readerOnHost ? (loop.Host, loop.Remote) : (loop.Remote, loop.Host);
        var longest = new long[8];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var acks = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource();

        // Peer: echo (replies from inside its callback), a sink that acknowledges, a sink that drops.
        b.CreateEndpoint(0x400, (ept, src, p) => ept.SendTo(src, p, TimeSpan.FromMinutes(5)));
        b.CreateEndpoint(0x401, (_, _, _) => acks.Release());
        b.CreateEndpoint(0x402, (_, _, _) => { });
        var bFlood = b.CreateEndpoint(0x403);

        // Reading side: a callback that sends from inside the pass that took its message, a sink for the peer's floods.
        var chained = a.CreateEndpoint(0x300, (ept, _, p) => ept.SendTo(0x401, p, TimeSpan.FromMinutes(5)));
        a.CreateEndpoint(0x302, (_, _, _) => { });
        var aFlood = a.CreateEndpoint(0x303);

        void Timed(int slot, Func<bool> wait, string what)
        {
            var sw = Stopwatch.StartNew();
            bool ok = wait();
            long ms = sw.ElapsedMilliseconds;
            long seen;
            while (ms > (seen = Volatile.Read(ref longest[slot])) && Interlocked.CompareExchange(ref longest[slot], ms, seen) != seen)
            {
            }
            if (!ok)
                failures.Enqueue($"{what}: no progress within {Stall.TotalSeconds} s\nA: {a.Dump()}\nB: {b.Dump()}");
        }

        var threads = new List<Thread>();
        void Start(Action<Random> body, int seed)
        {
            var t = new Thread(() =>
            {
                var rnd = new Random(seed);
                try
                {
                    while (!stop.IsCancellationRequested && failures.IsEmpty)
                        body(rnd);
                }
                catch (Exception e)
                {
                    failures.Enqueue(e.ToString());
                }
            }) { IsBackground = true };
            threads.Add(t);
            t.Start();
        }

        for (int r = 0; r < 3; r++)
        {
            int index = r;
            var queue = a.CreateEndpoint((uint)(0x500 + r));
            var buffer = new byte[64];
            int seq = 0;
            Start(rnd =>
            {
                if (rnd.Next(4) == 0)
                    Thread.Sleep(rnd.Next(3)); // workload shape: let spins run out and the dispatcher go idle between round trips
                byte tag = (byte)++seq;
                queue.SendTo(0x400, [(byte)index, tag]);
                RpmsgReceiveResult got = default;
                Timed(index, () =>
                {
                    bool ok = queue.TryReceive(buffer, Stall, out got);
                    if (!ok)
                        return false;
                    if (got.Length != 2 || buffer[0] != index || buffer[1] != tag)
                        failures.Enqueue($"reader {index}: wrong reply");
                    return true;
                }, $"reader {index}");
            }, 100 + r);
        }

        Start(rnd =>
        {
            if (rnd.Next(3) == 0)
                Thread.Sleep(rnd.Next(3));
            chained.SendTo(0x400, [7]); // echoed to 0x300, whose callback sends on to 0x401, which acknowledges
            Timed(3, () => acks.Wait(Stall), "callback chain");
        }, 200);

        // Bursts of up to 39 messages each way, to a sink: senders block on the full 16-entry ring (a send that times
        // out throws, which Start records).
        void Flood(int slot, RpmsgEndpoint from, uint to, string what, int seed) => Start(rnd =>
        {
            Thread.Sleep(rnd.Next(5));
            int n = rnd.Next(1, 40);
            for (int i = 0; i < n; i++)
                Timed(slot, () => { from.SendTo(to, [(byte)slot], Stall); return true; }, what);
        }, seed);
        Flood(4, aFlood, 0x402, "reading side's flood", 300);
        Flood(5, bFlood, 0x302, "peer's flood", 400);

        var until = DateTime.UtcNow + Run;
        while (DateTime.UtcNow < until && failures.IsEmpty)
            Thread.Sleep(50);
        stop.Cancel();
        foreach (var t in threads)
            t.Join(TimeSpan.FromMinutes(1));
        var summary = $"longest waits (ms): readers {longest[0]}/{longest[1]}/{longest[2]}, chain {longest[3]}, floods {longest[4]}/{longest[5]}; A counters {a.Counters}";
        Assert.True(failures.IsEmpty, string.Join("\n---\n", failures) + "\n" + summary);
        Assert.True(longest.Max() < Stall.TotalMilliseconds, summary);
        Console.WriteLine(summary);
    }
}
