using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.TestPeer;
using VirtioRpmsg.Tests.Infrastructure;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

public class VirtqueueCrossProcessTests
{
    private const int Num = 256;
    private const long BufferBase = 0x10000;   // buffers after the ring; device address == file offset
    private const int ChainsInFlight = Num / 2; // two descriptors per chain

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DriverHereDeviceInChild_MillionBuffers_ContentsTransformedAndVerified(bool eventIndex)
    {
        const long count = 1_000_000;
        string path = $"/dev/shm/vrpmsg-test-virtqueue-{Guid.NewGuid():N}";
        try
        {
            using var region = SharedMemoryRegion.CreateFile(path, BufferBase + ChainsInFlight * 32L, deviceAddress: 0);
            var driver = new VirtqueueDriver("test-driver", new Vring(region.Bind(), 0, new VringLayout(Num, 4096)), new AddressMap().Add(region), eventIndex);
            string passingName = $"vrpmsg-test-vq-{Guid.NewGuid():N}";
            using var listener = DescriptorListener.Listen(passingName);
            using var doorbell = EventFdDoorbell.Create("driver");
            using var peer = PeerProcess.Start("virtqueue-device", path, Num.ToString(CultureInfo.InvariantCulture),
                count.ToString(CultureInfo.InvariantCulture), eventIndex ? "1" : "0", passingName);
            using (var passing = listener.Accept(TimeSpan.FromSeconds(60)))
                passing.SendDoorbell(doorbell); // sends the peer's end: our outbound is its inbound

            peer.Expect("READY", TimeSpan.FromSeconds(60));

            long verified = RunDriver(driver, region, count, peer, doorbell);

            Assert.Equal(count, verified);
            Assert.Equal("DONE " + count.ToString(CultureInfo.InvariantCulture), peer.ReadLine(TimeSpan.FromSeconds(30)));
            // The peer exits by itself after DONE (stdin stays open: closing it would race its exit
            // with the parent watch's exit code).
            var exitWait = Stopwatch.StartNew();
            while (!peer.HasExited && exitWait.Elapsed < TimeSpan.FromSeconds(30))
                Thread.Sleep(10);
            Assert.True(peer.HasExited, "the peer did not exit after DONE");
            Assert.Equal("", peer.StandardError);
            Assert.Equal(Num, driver.FreeCount);
            Assert.False(driver.IsBroken);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static ulong ValueOf(long sequence) => (ulong)sequence * 0x9E37_79B9_7F4A_7C15ul;

    private static long RunDriver(VirtqueueDriver driver, SharedMemoryRegion region, long count, PeerProcess peer, EventFdDoorbell doorbell)
    {
        var free = new Stack<int>(Enumerable.Range(0, ChainsInFlight));
        var sequenceOf = new long[ChainsInFlight];
        Span<BufferSegment> chain = stackalloc BufferSegment[2];
        var clock = Stopwatch.StartNew();
        long posted = 0, verified = 0;
        while (verified < count)
        {
            int added = 0;
            while (posted < count && free.Count > 0)
            {
                int slot = free.Pop();
                long input = BufferBase + slot * 32L;
                using (var lease = region.Acquire())
                {
                    var span = lease.GetSpan(input, 32);
                    BinaryPrimitives.WriteUInt64LittleEndian(span, (ulong)posted);
                    BinaryPrimitives.WriteUInt64LittleEndian(span[8..], ValueOf(posted));
                    span[16..].Clear(); // the output half: a stale answer must not pass
                }
                chain[0] = new BufferSegment((ulong)input, 16, false);
                chain[1] = new BufferSegment((ulong)input + 16, 16, true);
                Assert.True(driver.TryAddChain(chain, slot));
                sequenceOf[slot] = posted++;
                added++;
            }
            if (added > 0 && driver.KickPrepare())
                doorbell.Ring();

            int reclaimed = 0;
            while (driver.TryGetUsed(out int slot, out uint length))
            {
                Assert.Equal(16u, length);
                long sequence = sequenceOf[slot];
                using (var lease = region.Acquire())
                {
                    var output = lease.GetReadOnlySpan(BufferBase + slot * 32L + 16, 16);
                    ulong gotSequence = BinaryPrimitives.ReadUInt64LittleEndian(output);
                    ulong gotValue = BinaryPrimitives.ReadUInt64LittleEndian(output[8..]);
                    if (gotSequence != (ulong)sequence || gotValue != VirtqueuePeer.Transform(ValueOf(sequence)))
                        Assert.Fail($"buffer {sequence} (slot {slot}): got ({gotSequence}, 0x{gotValue:X})");
                }
                free.Push(slot);
                verified++;
                reclaimed++;
            }

            if (added == 0 && reclaimed == 0)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(150))
                    Assert.Fail($"timed out: {verified} of {count} verified; peer exited: {peer.HasExited}; stderr: {peer.StandardError}");
                if (peer.HasExited)
                    Assert.Fail($"peer exited early after {verified} verified; stderr: {peer.StandardError}");
                // Ask for an interrupt, re-check (used entries may have landed meanwhile), then sleep on the doorbell.
                if (driver.EnableInterrupts())
                    doorbell.Wait(TimeSpan.FromMilliseconds(100));
                driver.DisableInterrupts();
            }
        }
        return verified;
    }
}
