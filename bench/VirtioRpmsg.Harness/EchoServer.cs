using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The remote side: sends every message back to its source; pins its dispatcher on the first one.</summary>
internal sealed class EchoServer(int cpu)
{
    private static readonly TimeSpan s_sendTimeout = TimeSpan.FromSeconds(30);
    private bool _pinned;

    public void OnMessage(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload)
    {
        if (!_pinned)
        {
            _pinned = true;
            CpuAffinity.PinCurrentThread(cpu);
        }
        if (!endpoint.TrySendTo(source, payload))
            endpoint.SendTo(source, payload, s_sendTimeout);
    }
}
