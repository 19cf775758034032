using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// An i.MX Messaging Unit seen from side A, with side B played by the test. Per channel n: A's TRn
/// lands in B's RRn (A's TEn is clear until B reads it); B's word lands in A's RRn and sets RFn until A
/// reads RRn; A's GIRn sets B's pending flag until B clears it; B's request sets A's GIPn, which A
/// clears by writing 1 (W1C). A's line is (RF and RIE) or (GIP and GIE) or (TE and TIE).
/// </summary>
public sealed class ImxMuModel(ImxMuLayout layout) : RegisterModel("imx-mu", layout == ImxMuLayout.V1 ? 0x28 : 0x2A0)
{
    private readonly uint?[] _toPeer = new uint?[4];    // A's TRn, until B reads it
    private readonly uint?[] _fromPeer = new uint?[4];  // A's RRn while RFn is set
    private readonly bool[] _requestToPeer = new bool[4];  // A's GIRn (B's GIPn)
    private readonly bool[] _requestFromPeer = new bool[4]; // A's GIPn
    private uint _receiveEnable, _gpEnable, _transmitEnable; // per-channel bit masks, bit n = channel n

    private bool V1 => layout == ImxMuLayout.V1;

    /// <summary>Words A wrote over a TRn that B had not read yet (lost messages).</summary>
    public int LostToPeer { get; private set; }

    /// <summary>Words B sent over an RRn A had not read yet.</summary>
    public int LostFromPeer { get; private set; }

    public bool InterruptLine =>
        Enumerable.Range(0, 4).Any(n => (_fromPeer[n] is not null && Enabled(_receiveEnable, n))
            || (_requestFromPeer[n] && Enabled(_gpEnable, n))
            || (_toPeer[n] is null && Enabled(_transmitEnable, n)));

    public bool ReceiveInterruptEnabled(int channel) => Enabled(_receiveEnable, channel);

    public bool GeneralPurposeInterruptEnabled(int channel) => Enabled(_gpEnable, channel);

    /// <summary>B writes its TRn.</summary>
    public void PeerSend(int channel, uint word)
    {
        if (_fromPeer[channel] is not null)
            LostFromPeer++;
        _fromPeer[channel] = word;
    }

    /// <summary>B reads its RRn (what A wrote); null when A wrote nothing.</summary>
    public uint? PeerReceive(int channel)
    {
        var word = _toPeer[channel];
        _toPeer[channel] = null;
        return word;
    }

    /// <summary>B sets its GIRn.</summary>
    public void PeerRequest(int channel) => _requestFromPeer[channel] = true;

    /// <summary>Is A's request n pending at B; B clears it (W1C of its GIPn).</summary>
    public bool PeerTakeRequest(int channel)
    {
        bool pending = _requestToPeer[channel];
        _requestToPeer[channel] = false;
        return pending;
    }

    private static bool Enabled(uint mask, int n) => (mask & (1u << n)) != 0;

    // Bit of channel n in a function's field: V1 packs channel 0 at the top of the nibble.
    private uint Bit(int nibble, int n) => V1 ? 1u << (nibble + 3 - n) : 1u << n;

    private uint Field(int nibble, Func<int, bool> set)
    {
        uint value = 0;
        for (int n = 0; n < 4; n++)
            if (set(n))
                value |= Bit(nibble, n);
        return value;
    }

    private uint Mask(int nibble, uint value)
    {
        uint mask = 0;
        for (int n = 0; n < 4; n++)
            if ((value & Bit(nibble, n)) != 0)
                mask |= 1u << n;
        return mask;
    }

    private uint Pack(int nibble, uint mask) => Field(nibble, n => Enabled(mask, n));

    protected override uint Read(long offset)
    {
        long tr = V1 ? 0x00 : 0x200, rr = V1 ? 0x10 : 0x280;
        if (offset >= rr && offset < rr + 16)
        {
            int n = (int)(offset - rr) / 4;
            uint word = _fromPeer[n] ?? 0;
            _fromPeer[n] = null; // reading RRn clears RFn
            return word;
        }
        if (offset >= tr && offset < tr + 16)
            return 0;
        uint gip = Field(28, n => _requestFromPeer[n]), rf = Field(24, n => _fromPeer[n] is not null), te = Field(20, n => _toPeer[n] is null);
        uint gie = Pack(28, _gpEnable), rie = Pack(24, _receiveEnable), tie = Pack(20, _transmitEnable), gir = Field(16, n => _requestToPeer[n]);
        if (V1)
        {
            return offset switch
            {
                0x20 => gip | rf | te,
                0x24 => gie | rie | tie | gir,
                _ => throw Undefined(offset, "read"),
            };
        }
        return offset switch
        {
            0x118 => Field(28, n => _requestFromPeer[n]),
            0x124 => Field(20, n => _toPeer[n] is null),
            0x12C => Field(24, n => _fromPeer[n] is not null),
            0x110 => _gpEnable,
            0x114 => Field(16, n => _requestToPeer[n]),
            0x120 => _transmitEnable,
            0x128 => _receiveEnable,
            0x0C or 0x08 => 0,
            _ => throw Undefined(offset, "read"),
        };
    }

    protected override void Write(long offset, uint value)
    {
        long tr = V1 ? 0x00 : 0x200;
        if (offset >= tr && offset < tr + 16)
        {
            int n = (int)(offset - tr) / 4;
            if (_toPeer[n] is not null)
                LostToPeer++;
            _toPeer[n] = value;
            return;
        }
        if (V1 ? offset == 0x20 : offset == 0x118)
        {
            uint cleared = Mask(28, value); // GIPn: write 1 to clear, which also clears B's GIRn
            for (int n = 0; n < 4; n++)
                if (Enabled(cleared, n))
                    _requestFromPeer[n] = false;
            return;
        }
        if (V1 && offset == 0x24)
        {
            _gpEnable = Mask(28, value);
            _receiveEnable = Mask(24, value);
            _transmitEnable = Mask(20, value);
            Request(Mask(16, value));
            return;
        }
        switch (offset)
        {
            case 0x110 when !V1: _gpEnable = value & 0xF; break;
            case 0x114 when !V1: Request(value & 0xF); break;
            case 0x120 when !V1: _transmitEnable = value & 0xF; break;
            case 0x128 when !V1: _receiveEnable = value & 0xF; break;
            default: throw Undefined(offset, "write");
        }
    }

    // GIRn: writing 1 raises the request, writing 0 has no effect.
    private void Request(uint mask)
    {
        for (int n = 0; n < 4; n++)
            if (Enabled(mask, n))
                _requestToPeer[n] = true;
    }
}
