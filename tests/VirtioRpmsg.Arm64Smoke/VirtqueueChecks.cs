using System.Diagnostics;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Both vring roles over one region: a driver thread posts request/response chains, a device thread
/// answers each one, on a memfd mapping with the ring and the buffers side by side. Each request's
/// bytes cross two publish/consume points (avail, then used), so an ordering bug shows as a wrong answer.
/// </summary>
public static class VirtqueueChecks
{
    private const ulong DeviceAddress = 0x4000_0000;
    private const int Num = 16;
    private const int InFlight = 8;
    private const int SlotSize = 256;
    private const int Requests = 3000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Virtqueue: driver and device roles on two threads over one region; every request answered (no event index)", () => RequestResponse(eventIndex: false));
        yield return new("Virtqueue: driver and device roles on two threads over one region; every request answered (EVENT_IDX)", () => RequestResponse(eventIndex: true));
    }

    private static byte Request(int sequence, int i) => (byte)(sequence * 7 + i);

    private static byte Answer(byte request) => (byte)~request;

    private static void RequestResponse(bool eventIndex)
    {
        var layout = new VringLayout(Num, 4096);
        long buffersOffset = (layout.TotalSize + 4095) & ~4095L;
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-smoke-vring", buffersOffset + 2L * InFlight * SlotSize, DeviceAddress);
        var buffers = new AddressMap().Add(region);
        var vring = new Vring(region.Bind(), 0, layout);
        var driver = new VirtqueueDriver("smoke-driver", vring, buffers, eventIndex);
        var device = new VirtqueueDevice("smoke-device", vring, buffers, eventIndex);
        var clock = Stopwatch.StartNew();
        Exception? deviceError = null;
        int answered = 0;

        var deviceThread = new Thread(() =>
        {
            try
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref answered) < Requests && clock.Elapsed < Bound)
                {
                    if (!device.TryTakeAvailable(out var chain))
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                        continue;
                    }
                    if (chain.SegmentCount != 2 || chain[0].DeviceWritable || !chain[1].DeviceWritable)
                        throw new SmokeFailure($"chain {chain.Head}: expected readable + writable segments, got {chain.SegmentCount}");
                    var request = chain[0];
                    var response = chain[1];
                    using (var lease = region.Acquire())
                    {
                        var src = lease.GetReadOnlySpan(request.Offset, (int)request.Length);
                        var dst = lease.GetSpan(response.Offset, (int)request.Length);
                        for (int i = 0; i < src.Length; i++)
                            dst[i] = Answer(src[i]);
                    }
                    device.PushUsed(chain.Head, request.Length);
                    device.NotifyPrepare();
                    Interlocked.Increment(ref answered);
                }
            }
            catch (Exception e)
            {
                deviceError = e;
            }
        })
        { IsBackground = true, Name = "smoke-device" };
        deviceThread.Start();

        // The driver: this thread posts and reclaims (each queue role is single-owner: one thread at a time).
        var slotBusy = new int[InFlight];
        var slotSequence = new int[InFlight];
        int sent = 0, received = 0;
        var driverSpin = new SpinWait();
        while (received < Requests)
        {
            Expect.True(clock.Elapsed < Bound, $"{Requests} requests answered within {Bound.TotalSeconds} s (got {received}; device error: {deviceError?.Message ?? "none"})");
            bool progressed = false;
            int slot = Array.IndexOf(slotBusy, 0);
            if (sent < Requests && slot >= 0)
            {
                int length = 16 + sent % (SlotSize - 16);
                long requestOffset = buffersOffset + 2L * slot * SlotSize;
                using (var lease = region.Acquire())
                {
                    var span = lease.GetSpan(requestOffset, length);
                    for (int i = 0; i < length; i++)
                        span[i] = Request(sent, i);
                }
                ReadOnlySpan<BufferSegment> chain =
                [
                    new BufferSegment(DeviceAddress + (ulong)requestOffset, (uint)length, deviceWritable: false),
                    new BufferSegment(DeviceAddress + (ulong)(requestOffset + SlotSize), SlotSize, deviceWritable: true),
                ];
                Expect.True(driver.TryAddChain(chain, slot), $"a chain fits with {driver.FreeCount} descriptors free");
                driver.KickPrepare();
                slotBusy[slot] = 1;
                slotSequence[slot] = sent++;
                progressed = true;
            }
            if (driver.TryGetUsed(out int token, out uint used))
            {
                Expect.True((uint)token < InFlight && slotBusy[token] == 1, $"used token {token} is one in flight");
                int sequence = slotSequence[token];
                int length = 16 + sequence % (SlotSize - 16);
                Expect.Equal((uint)length, used, $"used length of request {sequence}");
                using (var lease = region.Acquire())
                {
                    var answer = lease.GetReadOnlySpan(buffersOffset + 2L * token * SlotSize + SlotSize, length);
                    for (int i = 0; i < length; i++)
                    {
                        if (answer[i] != Answer(Request(sequence, i)))
                            throw new SmokeFailure($"request {sequence}, byte {i}: answer 0x{answer[i]:X2}, expected 0x{Answer(Request(sequence, i)):X2}");
                    }
                }
                slotBusy[token] = 0;
                received++;
                progressed = true;
            }
            if (!progressed)
                driverSpin.SpinOnce(sleep1Threshold: -1);
        }
        Expect.True(deviceThread.Join(Bound), "device thread finished");
        if (deviceError is not null)
            throw new SmokeFailure($"device: {deviceError.GetType().Name}: {deviceError.Message}");
        Expect.Equal(Num, driver.FreeCount, "free descriptors at the end");
        Expect.True(!driver.IsBroken && !device.IsBroken, $"neither role broken ({driver.Fault}, {device.Fault})");
    }
}
