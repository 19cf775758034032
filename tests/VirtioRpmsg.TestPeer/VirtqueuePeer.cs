using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// Mode "virtqueue-device": the device side of a virtqueue over a shared-memory file.
/// Args: PATH NUM COUNT EVENTIDX(0|1) PASSING. The file holds the vring at offset 0 (align 4096) and the
/// buffers after it; device address == file offset. Every chain must be a 16-byte device-readable
/// input (sequence, value) followed by a 16-byte device-writable output, which gets
/// (sequence, Transform(value)); the chain is returned with used length 16. Prints "READY", then
/// "DONE n" after COUNT chains. Doorbells: an eventfd pair received over the abstract socket
/// PASSING; it rings the driver when the used ring says so and sleeps on its doorbell when idle
/// (re-enabling notifications first and re-checking), with a hard deadline.
/// </summary>
public static class VirtqueuePeer
{
    /// <summary>What the device does to each value; the test checks it.</summary>
    public static ulong Transform(ulong value) => ulong.RotateLeft(value, 17) ^ 0xA5A5_5A5A_0F0F_F0F0;

    public static int Run(string[] args)
    {
        string path = args[1];
        int num = int.Parse(args[2], CultureInfo.InvariantCulture);
        long count = long.Parse(args[3], CultureInfo.InvariantCulture);
        bool eventIndex = args[4] == "1";
        ParentWatch.ExitWhenStdinCloses();
        using var passing = DescriptorPassing.Connect(args[5], TimeSpan.FromSeconds(30));
        using var doorbell = passing.ReceiveDoorbell(TimeSpan.FromSeconds(30));

        using var region = SharedMemoryRegion.OpenFile(path, deviceAddress: 0);
        var map = new AddressMap().Add(region);
        var device = new VirtqueueDevice("peer-device", new Vring(region.Bind(), 0, new VringLayout(num, 4096)), map, eventIndex);
        Console.WriteLine("READY");

        var deadline = Stopwatch.StartNew();
        long processed = 0;
        while (processed < count)
        {
            int batch = 0;
            while (processed < count && device.TryTakeAvailable(out var chain))
            {
                Process(chain);
                device.PushUsed(chain.Head, 16);
                processed++;
                batch++;
            }
            if (batch > 0)
            {
                if (device.NotifyPrepare())
                    doorbell.Ring();
                continue;
            }
            if (deadline.Elapsed > TimeSpan.FromSeconds(150))
            {
                Console.Error.WriteLine($"virtqueue-device: timed out after {processed} of {count} chains");
                return 4;
            }
            // Ask for a kick, re-check (the driver may have published just before), then sleep.
            if (device.EnableNotifications())
                doorbell.Wait(TimeSpan.FromMilliseconds(100));
            device.DisableNotifications();
        }
        Console.WriteLine("DONE " + processed.ToString(CultureInfo.InvariantCulture));
        return 0;
    }

    private static void Process(DescriptorChain chain)
    {
        if (chain.SegmentCount != 2 || chain[0].DeviceWritable || !chain[1].DeviceWritable || chain[0].Length != 16 || chain[1].Length != 16)
            throw new InvalidDataException($"chain {chain.Head}: unexpected shape ({chain.SegmentCount} segments)");
        var input = chain[0];
        var output = chain[1];
        using var lease = input.Region.Acquire();
        var src = lease.GetReadOnlySpan(input.Offset, 16);
        ulong sequence = BinaryPrimitives.ReadUInt64LittleEndian(src);
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(src[8..]);
        var dst = lease.GetSpan(output.Offset, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(dst, sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[8..], Transform(value));
    }
}
