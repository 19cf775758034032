using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.DeviceMemory;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// rpmsg on Device memory with system-strength barriers (issue 14 items 1 and 8): copies, zero-copy send and
/// zero-copy receive all work, and in checking mode every access they make is aligned.
/// </summary>
public class RpmsgDeviceMemoryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Echo_DeviceMemorySystemBarriers_EveryPayloadSizeRoundTrips()
    {
        using var loop = RpmsgLoopback.Create(memoryType: SharedMemoryType.Device, barriers: BarrierDomain.System);
        Assert.Equal(BarrierDomain.System, loop.Region.Barriers);
        var channel = RpmsgEchoTests.BindEcho(loop);
        var reply = new byte[loop.Host.MaxPayload];
        for (int size = 0; size <= loop.Host.MaxPayload; size += 13)
        {
            var payload = new byte[size];
            for (int i = 0; i < size; i++)
                payload[i] = (byte)(i * 5 + size);
            channel.Send(payload);
            var result = channel.Endpoint.Receive(reply, Bound);
            Assert.Equal(size, result.Length);
            Assert.True(payload.AsSpan().SequenceEqual(reply.AsSpan(0, size)), $"payload of {size} bytes differs");
        }
    }

    [Fact]
    public void ZeroCopy_InCheckingMode_StagesTxAndCopiesRxWithAlignedAccessesOnly()
    {
        using var scope = DeviceMemoryScope.Enter();
        using var loop = RpmsgLoopback.Create();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Remote.CreateZeroCopyEndpoint(0x430, (_, buffer) =>
        {
            using var view = buffer.Open();
            received.TrySetResult(System.Text.Encoding.ASCII.GetString(view.Payload));
        });
        var ept = loop.Host.CreateEndpoint(0x431, 0x430u);
        var tx = ept.GetTxBuffer(Bound);
        // Filled with the runtime's (possibly SIMD) span routines: legal, because the span is a staging buffer.
        tx.Span.Fill((byte)'x');
        "device memory, odd length"u8.CopyTo(tx.Span);
        tx.Send(25);
        tx.Dispose();
        loop.WaitUntil(() => received.Task.IsCompleted, "zero-copy message");
        Assert.Equal("device memory, odd length", received.Task.Result);
        Assert.True(scope.Checker.Accesses > 0);
        Assert.Equal(0, scope.Checker.ViolationCount);
    }
}
