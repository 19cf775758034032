using System.Diagnostics;

namespace VirtioRpmsg.Platform;

/// <summary>
/// The ST STM32MP1 inter-processor communication controller (IPCC). Each processor x has a control
/// register CxCR (bit 0 RXOIE, bit 16 TXFIE), a mask register CxMR (bit n: channel n "occupied"
/// masked, bit 16 + n: "free" masked), a write-only set/clear register CxSCR (bit n: clear the
/// peer's channel n, bit 16 + n: set our channel n) and a status CxTOCySR (bit n: our channel n
/// occupied); processor 1's block is at 0x00, processor 2's at 0x10 (Linux's stm32-ipcc). Ring: refused
/// while our channel is still occupied (the peer has not cleared it), else set it. Receive: the peer's
/// channel occupied, clear it, which both drops our RX-occupied interrupt and gives the peer its
/// TX-free interrupt. A channel may carry both directions. stm32_rproc uses one channel per vring, both ways
/// (mailboxes "vq0" and "vq1": a kick of vring n sets its channel, and either channel set by the M4 is taken);
/// <see cref="ForVrings"/> builds that, and a kick refused while its channel is occupied is sent at the next ring or interrupt.
/// Start and Stop are alone on the registers (a ring or acknowledge under way finishes first); after Stop nothing
/// touches them until Start: a ring returns false, an acknowledge <see cref="MailboxReceipt.NotChecked"/>.
/// </summary>
public sealed class Stm32Ipcc : IMailbox, IVringSignalSink
{
    /// <summary>Bytes of registers the two processors' blocks take.</summary>
    public const long RequiredSize = 0x20;

    private readonly IMmioRegisters _registers;
    private readonly long _control, _mask, _setClear, _ourStatus, _peerStatus;
    private readonly uint _txOccupied, _rxOccupied, _rxAllChannels;
    private readonly VringKicks? _kicks;
    private readonly MailboxGate _gate = new();

    /// <summary>The IPCC at <paramref name="registers"/>, used by processor <paramref name="processor"/>.</summary>
    /// <param name="registers">The IPCC register block.</param>
    /// <param name="processor">Which side we are: 1 (the Cortex-A7s running Linux) or 2 (the Cortex-M4).</param>
    /// <param name="txChannel">Channel we set (0-based; the reference manual's channel n + 1).</param>
    /// <param name="rxChannel">Channel the peer sets for us.</param>
    /// <param name="channelCount">Channels the IPCC has (6 on STM32MP15, HWCFGR.CHANNELS).</param>
    public Stm32Ipcc(IMmioRegisters registers, int processor, int txChannel, int rxChannel, int channelCount = 6)
    {
        ArgumentNullException.ThrowIfNull(registers);
        if (processor is not (1 or 2))
            throw new ArgumentOutOfRangeException(nameof(processor), processor, "STM32 IPCC processor must be 1 (Linux side) or 2.");
        if (channelCount is < 1 or > 16)
            throw new ArgumentOutOfRangeException(nameof(channelCount), channelCount, "An STM32 IPCC has 1-16 channels.");
        if ((uint)txChannel >= (uint)channelCount)
            throw new ArgumentOutOfRangeException(nameof(txChannel), txChannel, $"STM32 IPCC txChannel {txChannel} is not a channel 0-{channelCount - 1}.");
        if ((uint)rxChannel >= (uint)channelCount)
            throw new ArgumentOutOfRangeException(nameof(rxChannel), rxChannel, $"STM32 IPCC rxChannel {rxChannel} is not a channel 0-{channelCount - 1}.");
        if (registers.Size < RequiredSize)
            throw new ArgumentException($"STM32 IPCC needs 0x{RequiredSize:X} bytes of registers; '{registers.Name}' has 0x{registers.Size:X}.", nameof(registers));
        _registers = registers;
        Processor = processor;
        TxChannel = txChannel;
        RxChannel = rxChannel;
        long ours = Block(processor), peers = Block(3 - processor);
        _control = ours;
        _mask = ours + 0x4;
        _setClear = ours + 0x8;
        _ourStatus = ours + 0xC;
        _peerStatus = peers + 0xC;
        _txOccupied = 1u << txChannel;
        _rxOccupied = 1u << rxChannel;
        _rxAllChannels = (1u << channelCount) - 1;
    }

    // Per vring: the base constructor checks the rest; its tx/rx fields are then replaced by the two vrings' channels.
    private Stm32Ipcc(IMmioRegisters registers, int processor, int vring0Channel, int vring1Channel, int channelCount, bool perVring)
        : this(registers, processor, VringChannel(vring1Channel, vring0Channel, channelCount, nameof(vring1Channel)),
            VringChannel(vring0Channel, vring1Channel, channelCount, nameof(vring0Channel)), channelCount)
    {
        Debug.Assert(perVring);
        _kicks = new VringKicks(1u << vring0Channel, 1u << vring1Channel);
        _rxOccupied = (1u << vring0Channel) | (1u << vring1Channel);
        VringChannels = [vring0Channel, vring1Channel];
    }

    /// <summary>
    /// The IPCC as stm32_rproc uses it: a kick of vring n sets channel <paramref name="vring0Channel"/> or
    /// <paramref name="vring1Channel"/>, and the remote's signal on either is taken (the M4's OpenAMP port sets the
    /// channel of the vring it kicks: vring 0 for a new message, vring 1 for buffers it consumed).
    /// </summary>
    /// <param name="registers">The IPCC register block.</param>
    /// <param name="processor">Which side we are: 1 (the Cortex-A7s running Linux) or 2.</param>
    /// <param name="vring0Channel">Channel of vring 0 (0-based; Linux's device tree: mailbox "vq0" is IPCC channel 0).</param>
    /// <param name="vring1Channel">Channel of vring 1 ("vq1": channel 1).</param>
    /// <param name="channelCount">Channels the IPCC has (6 on STM32MP15).</param>
    public static Stm32Ipcc ForVrings(IMmioRegisters registers, int processor = 1, int vring0Channel = 0, int vring1Channel = 1, int channelCount = 6) =>
        new(registers, processor, vring0Channel, vring1Channel, channelCount, perVring: true);

    private static int VringChannel(int channel, int other, int channelCount, string name)
    {
        if (channelCount is >= 1 and <= 16 && (uint)channel >= (uint)channelCount)
            throw new ArgumentOutOfRangeException(name, channel, $"STM32 IPCC {name} {channel} is not a channel 0-{channelCount - 1}.");
        if (channel == other)
            throw new ArgumentException($"STM32 IPCC: vring 0 and vring 1 are both on channel {channel}; each vring needs its own channel (stm32_rproc's vq0 and vq1).", name);
        return channel;
    }

    /// <summary>The channels of vring 0 and vring 1 (<see cref="ForVrings"/>); null when one channel carries every kick.</summary>
    public IReadOnlyList<int>? VringChannels { get; }

    /// <summary>Offset of processor <paramref name="processor"/>'s block (CxCR).</summary>
    public static long Block(int processor) => (processor - 1) * 0x10L;

    /// <summary>Receive-occupied interrupt enable in CxCR.</summary>
    public const uint RxOccupiedInterruptEnable = 1u << 0;

    /// <summary>Our processor number.</summary>
    public int Processor { get; }

    /// <summary>Channel we set.</summary>
    public int TxChannel { get; }

    /// <summary>Channel the peer sets.</summary>
    public int RxChannel { get; }

    /// <inheritdoc />
    public string Name => VringChannels is { } vrings
        ? $"STM32 IPCC (processor {Processor}, vring channels {vrings[0]} and {vrings[1]}) at '{_registers.Name}'"
        : $"STM32 IPCC (processor {Processor}, tx channel {TxChannel}, rx channel {RxChannel}) at '{_registers.Name}'";

    /// <inheritdoc />
    public void Start()
    {
        lock (_gate.Lifecycle)
        {
            // Alone on the registers while setting them up; rings and acknowledges are refused until the end.
            _gate.Close();
            try
            {
                _kicks?.Clear();
                Take();
                // Unmask "occupied" for our receive channel(s) only, then enable the RX-occupied interrupt. The line is
                // ours alone; a channel an earlier user left unmasked is masked again, since a status we never clear
                // would hold the line up after every acknowledge.
                if (_registers.TryRead32(_mask, out uint mask))
                    _registers.TryWrite32(_mask, (mask | _rxAllChannels) & ~_rxOccupied);
                if (_registers.TryRead32(_control, out uint control))
                    _registers.TryWrite32(_control, control | RxOccupiedInterruptEnable);
            }
            finally
            {
                _gate.Open();
            }
        }
    }

    /// <inheritdoc />
    public bool TryRing() => TryRing(1);

    /// <inheritdoc />
    public bool TryRing(int vring)
    {
        // Stopped: nothing is written (the channels may be another mailbox's by now); the kick is not delivered.
        if (!_gate.TryEnter())
            return false;
        try
        {
            return _kicks is { } kicks ? kicks.Ring(vring, this) : TrySet(_txOccupied);
        }
        finally
        {
            _gate.Exit();
        }
    }

    bool IVringSignalSink.TrySendSignal(uint signal) => TrySet(signal);

    // Refused while the channel is still occupied (the peer has not cleared it). CxSCR is write-only: bit 16 + n sets
    // our channel n, zeros do nothing.
    private bool TrySet(uint channel) =>
        _registers.TryRead32(_ourStatus, out uint occupied) && (occupied & channel) == 0 && _registers.TryWrite32(_setClear, channel << 16);

    /// <inheritdoc />
    public void FlushKicks()
    {
        if (_kicks is not { } kicks || !_gate.TryEnter())
            return;
        try
        {
            kicks.Flush(this);
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
            var receipt = Take();
            // A kick refused while its channel was occupied may go now.
            _kicks?.Flush(this);
            return receipt;
        }
        finally
        {
            _gate.Exit();
        }
    }

    private MailboxReceipt Take()
    {
        if (!_registers.TryRead32(_peerStatus, out uint occupied))
            return MailboxReceipt.NotChecked;
        uint taken = occupied & _rxOccupied;
        if (taken == 0)
            return new MailboxReceipt(0, 0);
        // Bit n of CxSCR clears the peer's channel n: our "received", its "free".
        return _registers.TryWrite32(_setClear, taken) ? new MailboxReceipt(System.Numerics.BitOperations.PopCount(taken), 0) : MailboxReceipt.NotChecked;
    }

    /// <inheritdoc />
    public void Stop()
    {
        lock (_gate.Lifecycle)
        {
            // Nothing is written or read after Stop returns (the next session's mailbox may own the channels by then):
            // a ring or acknowledge under way finishes first, later ones and kept kicks are refused until Start.
            _gate.Close();
            _kicks?.Close();
            if (_registers.TryRead32(_mask, out uint mask))
                _registers.TryWrite32(_mask, mask | _rxOccupied);
        }
    }

    /// <summary>The controller, for logs.</summary>
    public override string ToString() => Name;
}
