namespace VirtioRpmsg.Platform;

/// <summary>
/// The ST STM32MP1 inter-processor communication controller (IPCC). Each processor x has a control
/// register CxCR (bit 0 RXOIE, bit 16 TXFIE), a mask register CxMR (bit n: channel n "occupied"
/// masked, bit 16 + n: "free" masked), a write-only set/clear register CxSCR (bit n: clear the
/// peer's channel n, bit 16 + n: set our channel n) and a status CxTOCySR (bit n: our channel n
/// occupied); processor 1's block is at 0x00, processor 2's at 0x10 (Linux's stm32-ipcc). Ring: refused
/// while our channel is still occupied (the peer has not cleared it), else set it. Receive: the peer's
/// channel occupied, clear it, which both drops our RX-occupied interrupt and gives the peer its
/// TX-free interrupt. A channel may carry both directions (stm32_rproc's vq0/vq1 do).
/// </summary>
public sealed class Stm32Ipcc : IMailbox
{
    /// <summary>Bytes of registers the two processors' blocks take.</summary>
    public const long RequiredSize = 0x20;

    private readonly IMmioRegisters _registers;
    private readonly long _control, _mask, _setClear, _ourStatus, _peerStatus;
    private readonly uint _txOccupied, _rxOccupied, _rxAllChannels;

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
    public string Name => $"STM32 IPCC (processor {Processor}, tx channel {TxChannel}, rx channel {RxChannel}) at '{_registers.Name}'";

    /// <inheritdoc />
    public void Start()
    {
        Acknowledge();
        // Unmask "occupied" for our receive channel only, then enable the RX-occupied interrupt. The line is
        // ours alone; a channel an earlier user left unmasked is masked again, since a status we never clear
        // would hold the line up after every acknowledge.
        if (_registers.TryRead32(_mask, out uint mask))
            _registers.TryWrite32(_mask, (mask | _rxAllChannels) & ~_rxOccupied);
        if (_registers.TryRead32(_control, out uint control))
            _registers.TryWrite32(_control, control | RxOccupiedInterruptEnable);
    }

    /// <inheritdoc />
    public bool TryRing()
    {
        if (!_registers.TryRead32(_ourStatus, out uint occupied) || (occupied & _txOccupied) != 0)
            return false;
        // CxSCR is write-only: bit 16 + n sets our channel n, zeros do nothing.
        return _registers.TryWrite32(_setClear, _txOccupied << 16);
    }

    /// <inheritdoc />
    public MailboxReceipt Acknowledge()
    {
        if (!_registers.TryRead32(_peerStatus, out uint occupied))
            return MailboxReceipt.NotChecked;
        if ((occupied & _rxOccupied) == 0)
            return new MailboxReceipt(0, 0);
        // Bit n of CxSCR clears the peer's channel n: our "received", its "free".
        return _registers.TryWrite32(_setClear, _rxOccupied) ? new MailboxReceipt(1, 0) : MailboxReceipt.NotChecked;
    }

    /// <inheritdoc />
    public void Stop()
    {
        if (_registers.TryRead32(_mask, out uint mask))
            _registers.TryWrite32(_mask, mask | _rxOccupied);
    }

    /// <summary>The controller, for logs.</summary>
    public override string ToString() => Name;
}
