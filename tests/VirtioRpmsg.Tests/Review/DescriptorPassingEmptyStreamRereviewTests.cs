using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// rereview-e (0cd9a0c): an empty SEQPACKET message from a live peer is bad input, not the end of the channel. A peer
/// that sends a stream of them costs its receiver one refusal per message (each one is consumed), never a spin on one,
/// and the receiver still sees the end once the peer closes.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class DescriptorPassingEmptyStreamRereviewTests
{
    [Fact]
    public void ManyEmptyMessages_EachRefusedOnce_ThenNothingPending_ThenTheCloseIsTheEnd()
    {
        const int Count = 64;
        var (a, b) = DescriptorPassing.CreatePair();
        using (b)
        {
            using (a)
            {
                for (int i = 0; i < Count; i++)
                    Assert.Equal(0, RawSendMsg.Send(a.Socket.Value, []));
                int refused = 0;
                while (true)
                {
                    try
                    {
                        b.ReceiveMemory(TimeSpan.Zero).Dispose();
                        Assert.Fail("an empty message was taken as a memory message");
                    }
                    catch (InvalidDataException)
                    {
                        refused++;
                        Assert.True(refused <= Count, $"more refusals ({refused}) than empty messages sent ({Count})");
                    }
                    catch (TimeoutException)
                    {
                        break; // nothing pending: the peer is still there
                    }
                }
                Assert.Equal(Count, refused);
            }
            Assert.Throws<EndOfStreamException>(() => b.ReceiveMemory(Bounded.Limit));
        }
    }
}
