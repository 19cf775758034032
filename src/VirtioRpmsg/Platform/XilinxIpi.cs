namespace VirtioRpmsg.Platform;

/// <summary>
/// One agent's channel of the Xilinx ZynqMP / Versal inter-processor interrupt (IPI) block:
/// TRIG 0x00 (write a destination's bit to interrupt it), OBS 0x04 (bits of destinations that have not
/// yet cleared our trigger), ISR 0x10 (bits of sources that triggered us, write 1 to clear), IMR 0x14
/// (read-only mask, 1 = masked), IER 0x18 and IDR 0x1C (write 1 to unmask / mask). Ring: refused while
/// OBS still shows the peer's bit, else write it to TRIG. Receive: the peer's bit in ISR, cleared by
/// writing it back. Start masks every other source and unmasks only the peer's, so other agents cannot
/// hold our line up (whatever an earlier user of the channel left unmasked). Start and Stop are alone on the registers
/// (a ring or acknowledge under way finishes first); after Stop nothing touches them until Start: a ring returns
/// false, an acknowledge <see cref="MailboxReceipt.NotChecked"/>.
/// </summary>
public sealed class XilinxIpi : IMailbox
{
    /// <summary>Bytes of registers an IPI channel needs (up to IDR).</summary>
    public const long RequiredSize = 0x20;

    /// <summary>Register offsets in a channel.</summary>
    public const long Trig = 0x00, Obs = 0x04, Isr = 0x10, Imr = 0x14, Ier = 0x18, Idr = 0x1C;

    private readonly IMmioRegisters _registers;
    private readonly MailboxGate _gate = new();

    /// <summary>Our IPI channel at <paramref name="registers"/>, talking to the agent(s) whose bit(s) are <paramref name="peerMask"/>.</summary>
    /// <param name="registers">Our channel's register block (ZynqMP channel 7, PL0: 0xFF340000).</param>
    /// <param name="peerMask">The remote agent's bit (ZynqMP: RPU0 0x100, RPU1 0x200; Versal: see the TRM).</param>
    public XilinxIpi(IMmioRegisters registers, uint peerMask)
    {
        ArgumentNullException.ThrowIfNull(registers);
        if (peerMask == 0)
            throw new ArgumentOutOfRangeException(nameof(peerMask), peerMask, "Xilinx IPI peerMask must name at least one agent bit.");
        if (registers.Size < RequiredSize)
            throw new ArgumentException($"Xilinx IPI needs 0x{RequiredSize:X} bytes of registers; '{registers.Name}' has 0x{registers.Size:X}.", nameof(registers));
        _registers = registers;
        PeerMask = peerMask;
    }

    /// <summary>The remote agent's bit(s).</summary>
    public uint PeerMask { get; }

    /// <inheritdoc />
    public string Name => $"Xilinx IPI (peer 0x{PeerMask:X}) at '{_registers.Name}'";

    /// <inheritdoc />
    public void Start()
    {
        lock (_gate.Lifecycle)
        {
            // Alone on the registers while setting them up; rings and acknowledges are refused until the end.
            _gate.Close();
            try
            {
                // Mask every other source first: the channel (and its line) is ours alone, but an earlier user may
                // have left sources unmasked, and a pending bit that is not the peer's is never cleared here, so
                // it would hold the line up after every acknowledge.
                _registers.TryWrite32(Idr, ~PeerMask);
                Take();
                _registers.TryWrite32(Ier, PeerMask);
            }
            finally
            {
                _gate.Open();
            }
        }
    }

    /// <inheritdoc />
    public bool TryRing()
    {
        // Stopped: nothing is written (the channel may be another owner's by now); the kick is not delivered.
        if (!_gate.TryEnter())
            return false;
        try
        {
            // OBS still set: the peer has not cleared our last trigger, which is therefore still pending.
            if (!_registers.TryRead32(Obs, out uint observed) || (observed & PeerMask) != 0)
                return false;
            return _registers.TryWrite32(Trig, PeerMask);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <inheritdoc />
    /// <remarks>After Stop (until Start) nothing is read or cleared: <see cref="MailboxReceipt.NotChecked"/>.</remarks>
    public MailboxReceipt Acknowledge()
    {
        if (!_gate.TryEnter())
            return MailboxReceipt.NotChecked;
        try
        {
            return Take();
        }
        finally
        {
            _gate.Exit();
        }
    }

    private MailboxReceipt Take()
    {
        if (!_registers.TryRead32(Isr, out uint pending))
            return MailboxReceipt.NotChecked;
        uint ours = pending & PeerMask;
        if (ours == 0)
            return new MailboxReceipt(0, 0);
        // Write-1-to-clear exactly the bits taken; this also clears the peer's OBS bit for us.
        return _registers.TryWrite32(Isr, ours) ? new MailboxReceipt(1, 0) : MailboxReceipt.NotChecked;
    }

    /// <inheritdoc />
    public void Stop()
    {
        lock (_gate.Lifecycle)
        {
            // A ring or acknowledge under way finishes first; after this returns nothing touches the channel until Start.
            _gate.Close();
            _registers.TryWrite32(Idr, PeerMask);
        }
    }

    /// <summary>The controller, for logs.</summary>
    public override string ToString() => Name;
}
