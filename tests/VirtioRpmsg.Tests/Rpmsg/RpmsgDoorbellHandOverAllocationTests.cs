using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Memory;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A reader waiting on the doorbell (<see cref="RpmsgDoorbellHandOver"/>) allocates nothing per message, with a
/// cancellation token of its own too (its link with the hand-over's interrupt is kept between waits). Measured as in
/// <see cref="RpmsgWaitStrategyAllocationTests"/>.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class RpmsgDoorbellHandOverAllocationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Receive_WithACancellationToken_EchoRoundTrips_AllocateNothingPerMessage()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.SendTo(src, payload));
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        using var cts = new CancellationTokenSource();
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        int takes = loop.Host.Rx.HandOver.Takes;

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                endpoint.Send(payload);
                if (endpoint.Receive(reply, Bound, cts.Token).Length != payload.Length)
                    throw new InvalidDataException($"round trip {i}: wrong length");
            }
            return Task.CompletedTask;
        }

        await RpmsgWaitStrategyAllocationTests.AssertNothingPerMessageAsync(Run, "Receive with a token, reader on the doorbell");
        Assert.True(loop.Host.Rx.HandOver.Takes > takes, "the reader never waited on the doorbell");
    }
}
