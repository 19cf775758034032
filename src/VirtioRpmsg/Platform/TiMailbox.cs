namespace VirtioRpmsg.Platform;

/// <summary>
/// The TI OMAP4-style mailbox as on K3 SoCs (AM62x, AM64x, AM65x, J7): message FIFOs of four 32-bit
/// words, <c>MESSAGE_m</c> at 0x40 + 4m, <c>FIFOSTATUS_m</c> (bit 0: full) at 0x80 + 4m,
/// <c>MSGSTATUS_m</c> (words queued) at 0xC0 + 4m, and per interrupt user u <c>IRQSTATUS_RAW</c>
/// 0x100, <c>IRQSTATUS_CLR</c> 0x104, <c>IRQENABLE_SET</c> 0x108, <c>IRQENABLE_CLR</c> 0x10C (+ 0x10 u),
/// where FIFO m's "new message" event is bit 2m and "not full" bit 2m + 1 (Linux's omap-mailbox).
/// Ring: refused while the transmit FIFO is full, else one word into it. Receive: read every queued
/// word of the receive FIFO, then clear its new-message status (write 1) and read the status back so
/// the posted clear lands before the line is enabled again (as Linux does). Start disables every other
/// event of our interrupt user, so nothing we do not drain can hold the line up. The word names the kicked vring
/// as omap_rproc_kick and the K3 drivers send it (its notify id), unless one fixed word is given; a kick refused by
/// a full FIFO is sent at the next ring or interrupt. Start and Stop are alone on the registers (a ring or acknowledge
/// under way finishes first); after Stop nothing touches them until Start: a ring returns false, an acknowledge
/// <see cref="MailboxReceipt.NotChecked"/>.
/// </summary>
public sealed class TiMailbox : IMailbox, IVringSignalSink
{
    /// <summary>Words a FIFO holds on these mailboxes.</summary>
    public const int FifoDepth = 4;

    // A receive FIFO that never reports empty (a peer writing as fast as we read) must not keep us here.
    private const int MaxDrain = 4 * FifoDepth;

    private readonly IMmioRegisters _registers;
    private readonly long _txMessage, _txFifoStatus, _rxMessage, _rxMessageStatus, _irqStatusClear, _irqEnableSet, _irqEnableClear;
    private readonly uint _newMessage;
    private readonly VringKicks? _kicks;
    private readonly uint _fixedValue;
    private readonly MailboxGate _gate = new();

    /// <summary>A mailbox cluster whose registers are <paramref name="registers"/>.</summary>
    /// <param name="registers">The cluster's register block.</param>
    /// <param name="txFifo">FIFO we write (the peer's receive FIFO).</param>
    /// <param name="rxFifo">FIFO the peer writes to us.</param>
    /// <param name="user">The interrupt user whose line is our UIO interrupt.</param>
    /// <param name="ringValue">One fixed word written for every kick, whichever vring (firmware that reads no word).</param>
    /// <param name="fifoCount">FIFOs in the cluster (16 on K3, 8 on OMAP4).</param>
    /// <param name="userCount">Interrupt users in the cluster (4 on K3, 3 on OMAP4).</param>
    /// <param name="vringValues">The words for a kick of vring 0 and of vring 1. Without this and <paramref name="ringValue"/>,
    /// Linux's words for the first vdev: the notify ids 0 and 1.</param>
    public TiMailbox(IMmioRegisters registers, int txFifo, int rxFifo, int user, uint? ringValue = null, int fifoCount = 16, int userCount = 4,
        IReadOnlyList<uint>? vringValues = null)
        : this(registers, txFifo, rxFifo, user, ringValue, fifoCount, userCount, vringValues, notifyIds: null)
    {
    }

    /// <summary>As the public constructor; without words given, each kick's word is the vring's id in <paramref name="notifyIds"/> at that kick.</summary>
    internal TiMailbox(IMmioRegisters registers, int txFifo, int rxFifo, int user, uint? ringValue, int fifoCount, int userCount,
        IReadOnlyList<uint>? vringValues, VringNotifyIds? notifyIds)
    {
        ArgumentNullException.ThrowIfNull(registers);
        if (fifoCount is < 1 or > 16)
            throw new ArgumentOutOfRangeException(nameof(fifoCount), fifoCount, "A TI mailbox cluster has 1-16 FIFOs.");
        if (userCount is < 1 or > 4)
            throw new ArgumentOutOfRangeException(nameof(userCount), userCount, "A TI mailbox cluster has 1-4 interrupt users.");
        if ((uint)txFifo >= (uint)fifoCount)
            throw new ArgumentOutOfRangeException(nameof(txFifo), txFifo, $"TI mailbox txFifo {txFifo} is not a FIFO 0-{fifoCount - 1}.");
        if ((uint)rxFifo >= (uint)fifoCount)
            throw new ArgumentOutOfRangeException(nameof(rxFifo), rxFifo, $"TI mailbox rxFifo {rxFifo} is not a FIFO 0-{fifoCount - 1}.");
        if (txFifo == rxFifo)
            throw new ArgumentException($"TI mailbox: txFifo and rxFifo are both {txFifo}; a FIFO carries one direction.", nameof(rxFifo));
        if ((uint)user >= (uint)userCount)
            throw new ArgumentOutOfRangeException(nameof(user), user, $"TI mailbox user {user} is not a user 0-{userCount - 1}.");
        _kicks = notifyIds is null
            ? MailboxWords.Kicks(ringValue, vringValues, 0, 1, "TI mailbox")
            : MailboxWords.Kicks(ringValue, vringValues, notifyIds, static id => id, "TI mailbox");
        long needed = RequiredSize(user);
        if (registers.Size < needed)
            throw new ArgumentException($"TI mailbox user {user} needs 0x{needed:X} bytes of registers; '{registers.Name}' has 0x{registers.Size:X}.", nameof(registers));
        _registers = registers;
        TxFifo = txFifo;
        RxFifo = rxFifo;
        User = user;
        _fixedValue = ringValue ?? 0;
        _txMessage = Message(txFifo);
        _txFifoStatus = 0x80 + 4 * txFifo;
        _rxMessage = Message(rxFifo);
        _rxMessageStatus = 0xC0 + 4 * rxFifo;
        _irqStatusClear = IrqStatusClear(user);
        _irqEnableSet = 0x108 + 0x10 * user;
        _irqEnableClear = 0x10C + 0x10 * user;
        _newMessage = NewMessageBit(rxFifo);
    }

    /// <summary>Bytes of registers needed for interrupt user <paramref name="user"/> (up to its IRQENABLE_CLR).</summary>
    public static long RequiredSize(int user) => 0x10C + 0x10L * user + 4;

    /// <summary>Offset of <c>MESSAGE_m</c>.</summary>
    public static long Message(int fifo) => 0x40 + 4 * fifo;

    /// <summary>Offset of user <paramref name="user"/>'s <c>IRQSTATUS_CLR</c>.</summary>
    public static long IrqStatusClear(int user) => 0x104 + 0x10 * user;

    /// <summary>FIFO <paramref name="fifo"/>'s "new message" interrupt bit.</summary>
    public static uint NewMessageBit(int fifo) => 1u << (2 * fifo);

    /// <summary>FIFO we write.</summary>
    public int TxFifo { get; }

    /// <summary>FIFO we read.</summary>
    public int RxFifo { get; }

    /// <summary>Our interrupt user.</summary>
    public int User { get; }

    /// <summary>The word <see cref="TryRing()"/> writes: the fixed word, or vring 1's (a message for the remote).</summary>
    public uint RingValue => _kicks?.Signal(1) ?? _fixedValue;

    /// <summary>The words of a kick of vring 0 and vring 1; null when one fixed word is sent for every kick.</summary>
    public IReadOnlyList<uint>? VringValues => _kicks is { } kicks ? [kicks.Signal(0), kicks.Signal(1)] : null;

    /// <inheritdoc />
    public string Name => $"TI mailbox (tx FIFO {TxFifo}, rx FIFO {RxFifo}, user {User}) at '{_registers.Name}'";

    /// <inheritdoc />
    public void Start()
    {
        lock (_gate.Lifecycle)
        {
            // Alone on the registers while setting them up; rings and acknowledges wait outside (refused) until the end.
            _gate.Close();
            try
            {
                // The user's line is ours alone: disable every other event an earlier user left enabled (another
                // FIFO's new message, a not-full), which we never drain or clear and which would hold the line up.
                _registers.TryWrite32(_irqEnableClear, ~_newMessage);
                _kicks?.Clear();
                Take();
                // IRQENABLE_SET: writing 1 sets the enable bit, 0 leaves the others alone (no read-modify-write).
                _registers.TryWrite32(_irqEnableSet, _newMessage);
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
        // Stopped: nothing is written (the FIFO may be another mailbox's by now); the kick is not delivered.
        if (!_gate.TryEnter())
            return false;
        try
        {
            return _kicks is { } kicks ? kicks.Ring(vring, this) : TryWriteWord(RingValue);
        }
        finally
        {
            _gate.Exit();
        }
    }

    bool IVringSignalSink.TrySendSignal(uint signal) => TryWriteWord(signal);

    // A write to a full FIFO is dropped by the hardware; full means the peer has words pending.
    private bool TryWriteWord(uint word) =>
        _registers.TryRead32(_txFifoStatus, out uint full) && (full & 1) == 0 && _registers.TryWrite32(_txMessage, word);

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
            // A kick refused by a full FIFO may go now.
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
        int taken = 0;
        uint last = 0;
        while (taken < MaxDrain)
        {
            if (!_registers.TryRead32(_rxMessageStatus, out uint queued))
                return MailboxReceipt.NotChecked;
            if (queued == 0)
                break;
            if (!_registers.TryRead32(_rxMessage, out last))
                return MailboxReceipt.NotChecked;
            taken++;
        }
        // Only once the FIFO is empty: the status would be raised again while words remain.
        if (!_registers.TryWrite32(_irqStatusClear, _newMessage) || !_registers.TryRead32(_irqStatusClear, out _))
            return MailboxReceipt.NotChecked;
        return new MailboxReceipt(taken, last);
    }

    /// <inheritdoc />
    public void Stop()
    {
        lock (_gate.Lifecycle)
        {
            // Nothing is written or read after Stop returns (the next session's mailbox may be using the FIFOs by then):
            // a ring or acknowledge under way finishes first, later ones and kept kicks are refused until Start.
            _gate.Close();
            _kicks?.Close();
            _registers.TryWrite32(_irqEnableClear, _newMessage);
        }
    }

    /// <summary>The controller, for logs.</summary>
    public override string ToString() => Name;
}
