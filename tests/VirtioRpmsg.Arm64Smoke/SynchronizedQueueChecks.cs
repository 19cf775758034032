using System.Buffers.Binary;
using System.Diagnostics;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Several threads share one driver queue through <see cref="SynchronizedVirtqueue{TQueue}"/>: each
/// fills its buffer, then adds it under the gate, and whichever thread kicks next publishes it. A device
/// thread checks every buffer's bytes. So bytes written by one thread and published by another must be
/// visible to the device: the gate's release/acquire carries them (ARMv8 cumulativity).
/// </summary>
public static class SynchronizedQueueChecks
{
    private const ulong DeviceAddress = 0x5000_0000;
    private const int Num = 16;
    private const int Producers = 3;
    private const int SlotsPerProducer = 4;
    private const int PerProducer = 1500;
    private const int SlotSize = 128;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("SynchronizedVirtqueue: 3 producers share the driver through the gate; every buffer's bytes seen by the device, every token back once", Run);
    }

    private static byte Pattern(int token, int i) => (byte)(token * 13 + i);

    private static void Run()
    {
        var layout = new VringLayout(Num, 4096);
        long buffersOffset = (layout.TotalSize + 4095) & ~4095L;
        const int Total = Producers * PerProducer;
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-smoke-gate", buffersOffset + (long)Producers * SlotsPerProducer * SlotSize, DeviceAddress);
        var buffers = new AddressMap().Add(region);
        var vring = new Vring(region.Bind(), 0, layout);
        var driver = new SynchronizedVirtqueue<VirtqueueDriver>(new VirtqueueDriver("smoke-gate-driver", vring, buffers, eventIndex: true));
        var device = new VirtqueueDevice("smoke-gate-device", vring, buffers, eventIndex: true);
        var slotFree = Enumerable.Repeat(1, Producers * SlotsPerProducer).ToArray();
        var seen = new int[Total];
        var clock = Stopwatch.StartNew();
        Exception? error = null;
        int handled = 0;
        bool Expired() => Volatile.Read(ref error) is not null || clock.Elapsed > Bound;

        void Reclaim()
        {
            using var q = driver.Enter();
            while (q.Queue.TryGetUsed(out int token, out _))
            {
                if ((uint)token >= Total || Interlocked.Increment(ref seen[token]) != 1)
                    throw new SmokeFailure($"token {token} returned twice or out of range");
                int p = token / PerProducer;
                Volatile.Write(ref slotFree[p * SlotsPerProducer + token % PerProducer % SlotsPerProducer], 1);
            }
        }

        var threads = new List<Thread>();
        void Start(Action body) => threads.Add(new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref error, e, null);
            }
        }) { IsBackground = true });

        for (int p = 0; p < Producers; p++)
        {
            int producer = p;
            Start(() =>
            {
                var spin = new SpinWait();
                for (int n = 0; n < PerProducer && !Expired(); n++)
                {
                    int token = producer * PerProducer + n;
                    int slot = producer * SlotsPerProducer + n % SlotsPerProducer;
                    while (Volatile.Read(ref slotFree[slot]) == 0 && !Expired())
                    {
                        Reclaim();
                        spin.SpinOnce(sleep1Threshold: -1);
                    }
                    slotFree[slot] = 0;
                    long offset = buffersOffset + (long)slot * SlotSize;
                    using (var lease = region.Acquire())
                    {
                        var span = lease.GetSpan(offset, SlotSize);
                        BinaryPrimitives.WriteInt32LittleEndian(span, token);
                        for (int i = 4; i < SlotSize; i++)
                            span[i] = Pattern(token, i);
                    }
                    using var q = driver.Enter();
                    if (!q.Queue.TryAdd(DeviceAddress + (ulong)offset, SlotSize, deviceWritable: false, token))
                        throw new SmokeFailure($"no descriptor free for token {token} with {Producers * SlotsPerProducer} slots and num {Num}");
                    // Every other add is left for another thread's kick to publish.
                    if ((n & 1) == 0)
                        q.Queue.KickPrepare();
                }
                using (var q = driver.Enter())
                    q.Queue.KickPrepare();
            });
        }
        Start(() =>
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref handled) < Total && !Expired())
            {
                if (!device.TryTakeAvailable(out var chain))
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                var s = chain[0];
                using (var lease = s.Region.Acquire())
                {
                    var span = lease.GetReadOnlySpan(s.Offset, (int)s.Length);
                    int token = BinaryPrimitives.ReadInt32LittleEndian(span);
                    for (int i = 4; i < span.Length; i++)
                    {
                        if (span[i] != Pattern(token, i))
                            throw new SmokeFailure($"token {token}, byte {i}: 0x{span[i]:X2}, expected 0x{Pattern(token, i):X2} (published before the bytes were visible)");
                    }
                }
                device.PushUsed(chain.Head, s.Length);
                device.NotifyPrepare();
                Interlocked.Increment(ref handled);
            }
        });

        foreach (var t in threads)
            t.Start();
        foreach (var t in threads)
            Expect.True(t.Join(Bound + TimeSpan.FromSeconds(10)), "worker finished");
        if (error is not null)
            throw new SmokeFailure($"{error.GetType().Name}: {error.Message}");
        Reclaim();
        Expect.Equal(Total, handled, "buffers the device checked");
        Expect.True(seen.All(c => c == 1), "every token returned exactly once");
        Expect.Equal(Num, driver.Unsynchronized.FreeCount, "free descriptors at the end");
    }
}
