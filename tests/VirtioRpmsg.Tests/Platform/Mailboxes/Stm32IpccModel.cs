namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// The STM32MP1 IPCC with both processors' blocks; processor 2 is played by the test. CxSCR is
/// write-only (reads 0): bit n clears the peer's channel n, bit 16 + n sets our channel n (setting an
/// occupied channel coalesces). Reset: every channel masked, interrupts disabled. Processor p's
/// RX-occupied line is RXOIE and (peer's status AND NOT occupied-mask).
/// </summary>
public sealed class Stm32IpccModel() : RegisterModel("ipcc", 0x400)
{
    private readonly uint[] _control = new uint[2];
    private readonly uint[] _mask = [0x003F_003F, 0x003F_003F];
    private readonly uint[] _occupied = new uint[2]; // [p]: CxTOCySR, the channels processor p set

    /// <summary>Sets of a channel that was still occupied (the peer sees one event for several).</summary>
    public int Coalesced { get; private set; }

    public bool RxOccupiedLine(int processor) =>
        (_control[processor - 1] & 1) != 0 && (_occupied[2 - processor] & ~_mask[processor - 1] & 0xFFFF) != 0;

    public uint MaskRegister(int processor) => _mask[processor - 1];

    public uint ControlRegister(int processor) => _control[processor - 1];

    public bool Occupied(int processor, int channel) => (_occupied[processor - 1] & (1u << channel)) != 0;

    /// <summary>Processor <paramref name="processor"/> sets its channel (as through its SCR).</summary>
    public void PeerSet(int processor, int channel) => Scr(processor - 1, 1u << (16 + channel));

    /// <summary>Processor <paramref name="processor"/> clears the other's channel (as through its SCR).</summary>
    public void PeerClear(int processor, int channel) => Scr(processor - 1, 1u << channel);

    private void Scr(int p, uint value)
    {
        _occupied[1 - p] &= ~(value & 0xFFFF);
        uint set = value >> 16;
        if ((_occupied[p] & set) != 0)
            Coalesced++;
        _occupied[p] |= set;
    }

    protected override uint Read(long offset)
    {
        int p = (int)(offset / 0x10);
        return offset switch
        {
            0x00 or 0x10 => _control[p],
            0x04 or 0x14 => _mask[p],
            0x08 or 0x18 => 0,
            0x0C or 0x1C => _occupied[p],
            0x3F0 => 6, // HWCFGR: six channels
            _ => throw Undefined(offset, "read"),
        };
    }

    protected override void Write(long offset, uint value)
    {
        int p = (int)(offset / 0x10);
        switch (offset)
        {
            case 0x00 or 0x10: _control[p] = value & 0x0001_0001; break;
            case 0x04 or 0x14: _mask[p] = value & 0x003F_003F; break;
            case 0x08 or 0x18: Scr(p, value); break;
            default: throw Undefined(offset, "write");
        }
    }
}
