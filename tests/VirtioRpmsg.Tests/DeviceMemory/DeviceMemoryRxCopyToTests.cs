using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>
/// Review smallrx, item 4: <see cref="RpmsgRxBuffer.CopyTo"/> on Device memory copies once, straight from shared
/// memory into the destination with the aligned (Device-safe) copy: no private copy in the buffer's bounce array
/// first. The checker scope fails the test on any access Device memory does not allow.
/// </summary>
[Trait("Category", "DeviceMemory")]
public class DeviceMemoryRxCopyToTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(496)]
    public void CopyTo_OnDeviceMemory_CopiesOnceIntoTheDestination(int length)
    {
        using var scope = DeviceMemoryScope.Enter(keepLog: true);
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            memoryType: SharedMemoryType.Device);
        var payload = new byte[length];
        for (int i = 0; i < length; i++)
            payload[i] = (byte)(i * 7 + 3);
        byte[] destination = new byte[length + 5];
        int copied = -1;
        bool privateCopy = true;
        long readsDuringCopy = -1;
        loop.Host.CreateZeroCopyEndpoint(0x500, (_, buffer) =>
        {
            long before = scope.Checker.Accesses;
            copied = buffer.CopyTo(destination.AsSpan(5));
            readsDuringCopy = scope.Checker.Accesses - before;
            privateCopy = buffer.HasPrivateCopy;
        });
        Assert.True(loop.Remote.CreateEndpoint(0x400).TrySendTo(0x500, payload));
        Assert.Equal(1, loop.Host.Poll());

        Assert.Equal(length, copied);
        Assert.Equal(payload, destination.AsSpan(5).ToArray());
        Assert.False(privateCopy, "CopyTo made a private copy of the payload first, then copied that into the destination");
        // One pass over the payload in shared memory, in aligned accesses of at most 8 bytes (a buffer's payload starts
        // 16 bytes in, so at an 8-byte boundary): no more accesses than ceil(length / 8) plus the tail's narrower ones.
        Assert.InRange(readsDuringCopy, (length + 7) / 8, (length / 8) + 3);
    }
}
