using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>A doorbell under test plus a way for "the peer" to ring it, and what to clean up.</summary>
public sealed class DoorbellUnderTest : IDisposable
{
    private readonly Action _ringFromPeer;
    private readonly Action _cleanup;

    public DoorbellUnderTest(IDoorbell local, Action ringFromPeer, Action cleanup)
    {
        Local = local;
        _ringFromPeer = ringFromPeer;
        _cleanup = cleanup;
    }

    /// <summary>The doorbell whose Wait/Ring/Drain are tested.</summary>
    public IDoorbell Local { get; }

    /// <summary>Makes the peer ring <see cref="Local"/>.</summary>
    public void RingFromPeer() => _ringFromPeer();

    public void Dispose()
    {
        Local.Dispose();
        _cleanup();
    }
}
