using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// Review (native): a SOCK_SEQPACKET channel delivers empty messages (with or without descriptors) as recvmsg() = 0,
/// which is also what the end of the channel reads as. <see cref="DescriptorPassing"/> took every 0 for "the peer
/// closed the channel" (<see cref="EndOfStreamException"/>), so a peer that is still there and sends one empty message
/// made its receiver give up on it: the simulated remote's host watch stops the device on that exception ("the host
/// went away"), where a bad message (<see cref="InvalidDataException"/>) is skipped. Bad input must be reported as
/// bad input, its descriptors closed, and the channel keep working.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class DescriptorPassingEmptyMessageReviewTests
{
    [Fact]
    public void ReceiveMemory_EmptyMessageCarryingDescriptors_IsInvalidDataNamingTheCount_ClosesThem_AndTheChannelGoesOn()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var doorbell = EventFdDoorbell.Create("vrpmsg-test-empty"))
        using (var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-empty", 4096))
        {
            int before = Memory.ProcessResources.OpenDescriptors();
            Assert.Equal(0, RawSendMsg.Send(a.Socket.Value, [], doorbell.PeerInbound.Value, doorbell.PeerOutbound.Value));

            var thrown = Record.Exception(() => b.ReceiveMemory(Bounded.Limit));

            Assert.True(thrown is InvalidDataException, $"an empty message carrying 2 descriptors from a live peer threw {thrown?.GetType().Name}: {thrown?.Message}");
            Assert.Contains("empty (0 bytes) but carries 2 descriptors", thrown!.Message);
            Assert.Equal(before, Memory.ProcessResources.OpenDescriptors());
            a.SendMemory(region);
            using var received = b.ReceiveMemory(Bounded.Limit);
            Assert.Equal(4096, received.Size);
        }
    }

    [Fact]
    public void ReceiveMemory_EmptyMessageFromAPeerStillThere_IsInvalidData_NotEndOfStream_AndTheChannelGoesOn()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-empty", 4096))
        {
            Assert.Equal(0, RawSendMsg.Send(a.Socket.Value, []));

            var thrown = Record.Exception(() => b.ReceiveMemory(Bounded.Limit));

            Assert.True(thrown is InvalidDataException, $"an empty message from a live peer threw {thrown?.GetType().Name}: {thrown?.Message}");
            Assert.Contains("empty (0 bytes)", thrown!.Message);
            a.SendMemory(region);
            using var received = b.ReceiveMemory(Bounded.Limit);
            Assert.Equal(4096, received.Size);
        }
    }

    [Fact]
    public void ReceiveMemory_EmptyMessageThenThePeerCloses_IsEndOfStream()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (b)
        {
            using (a)
                Assert.Equal(0, RawSendMsg.Send(a.Socket.Value, []));
            Assert.Throws<EndOfStreamException>(() => b.ReceiveMemory(Bounded.Limit));
            Assert.Throws<EndOfStreamException>(() => b.ReceiveMemory(Bounded.Limit));
        }
    }
}
