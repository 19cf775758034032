using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// One agent's IPI channel (ours: <paramref name="ourMask"/>) and the peer agent's ISR, played by the
/// test. TRIG sets our bit in each destination's ISR; OBS shows the destinations whose ISR still has
/// our bit; ISR is write-1-to-clear; IMR (reset: all masked) is read-only, changed through IER/IDR.
/// Our line is ISR AND NOT IMR.
/// </summary>
public sealed class XilinxIpiModel(uint ourMask, uint peerMask) : RegisterModel("ipi", 0x20)
{
    private uint _isr, _imr = 0xFFFF_FFFF, _peerIsr;

    /// <summary>Triggers of the peer while our previous one was still pending there.</summary>
    public int Coalesced { get; private set; }

    /// <summary>Triggers of agents other than the peer.</summary>
    public uint ForeignTriggers { get; private set; }

    public bool InterruptLine => (_isr & ~_imr) != 0;

    public uint Mask => _imr;

    /// <summary>The peer triggers us.</summary>
    public void PeerTrigger() => _isr |= peerMask;

    /// <summary>Another agent triggers us.</summary>
    public void ForeignTrigger(uint source) => _isr |= source;

    /// <summary>The peer takes our trigger (clears our bit in its ISR); false when none was pending.</summary>
    public bool PeerAcknowledge()
    {
        bool pending = (_peerIsr & ourMask) != 0;
        _peerIsr &= ~ourMask;
        return pending;
    }

    protected override uint Read(long offset) => offset switch
    {
        XilinxIpi.Trig => 0,
        XilinxIpi.Obs => (_peerIsr & ourMask) != 0 ? peerMask : 0,
        XilinxIpi.Isr => _isr,
        XilinxIpi.Imr => _imr,
        _ => throw Undefined(offset, "read"),
    };

    protected override void Write(long offset, uint value)
    {
        switch (offset)
        {
            case XilinxIpi.Trig:
                if ((value & peerMask) != 0)
                {
                    if ((_peerIsr & ourMask) != 0)
                        Coalesced++;
                    _peerIsr |= ourMask;
                }
                ForeignTriggers |= value & ~peerMask;
                break;
            case XilinxIpi.Isr: _isr &= ~value; break;
            case XilinxIpi.Ier: _imr &= ~value; break;
            case XilinxIpi.Idr: _imr |= value; break;
            default: throw Undefined(offset, "write");
        }
    }
}
