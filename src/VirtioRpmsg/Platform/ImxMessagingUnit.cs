namespace VirtioRpmsg.Platform;

/// <summary>Register layout of an NXP Messaging Unit.</summary>
public enum ImxMuLayout
{
    /// <summary>i.MX6SX, i.MX7D, i.MX8M, i.MX8QM/QXP: TR0-3 at 0x00, RR0-3 at 0x10, one SR at 0x20, one CR at 0x24, per-channel bits counted down from bit 31/27/23/19.</summary>
    V1,
    /// <summary>i.MX8ULP, i.MX93, i.MX95: TR at 0x200, RR at 0x280, separate status/control registers per function, channel n = bit n.</summary>
    V2,
}

/// <summary>How an i.MX MU rings: through a data register, or a general-purpose interrupt.</summary>
public enum ImxMuSignal
{
    /// <summary>Write TRn, the peer reads RRn (RPMsg-Lite and imx_rproc: channel 1, message = the kicked vring's id &lt;&lt; 16).</summary>
    Data,
    /// <summary>Set GIRn in the control register; the peer sees GIPn and clears it (write 1), which clears our GIRn (imx_rproc's "rxdb").</summary>
    GeneralPurpose,
}

/// <summary>
/// The NXP i.MX Messaging Unit, side A (the Linux side), as Linux's imx-mailbox driver and
/// RPMsg-Lite's i.MX platform code use it. Data mode: ring = check TEn (the peer has read its RRn),
/// then write TRn; receive = RFn set, read RRn (the read clears RFn and drops the interrupt). General
/// purpose mode: ring = GIRn still set means the peer has not taken the last one, else set GIRn;
/// receive = GIPn set, write 1 to it. The receive interrupt enable (RIEn or GIEn) is set at
/// <see cref="Start"/>, which also clears every other enable of side A (the line is ours alone), and
/// cleared at <see cref="Stop"/>; these and a general-purpose ring read-modify-write control registers (on V1 one
/// register holds them all). Start and Stop are alone on the registers (they wait, briefly, for a ring or acknowledge
/// under way, and refuse later ones until they are done), and after Stop nothing touches them until Start: a ring
/// returns false, an acknowledge <see cref="MailboxReceipt.NotChecked"/>. Between rings one thread at a time
/// changes the control register and a ring that finds it busy leaves its change to it (no lock: a ring never
/// waits). In data mode the word names the kicked vring as imx_rproc_kick does (its notify id
/// &lt;&lt; 16; RPMsg-Lite's MU handler calls env_isr(word &gt;&gt; 16) and so serves that vring only), unless one fixed
/// word is given; a kick the MU cannot take yet (the previous word unread) is sent at the next ring or interrupt.
/// </summary>
public sealed class ImxMessagingUnit : IMailbox, IVringSignalSink
{
    private readonly IMmioRegisters _registers;
    private readonly int _tx, _rx;
    private readonly long _txData, _rxData, _txStatus, _rxStatus, _gpStatus, _rxControl, _gpEnable, _gpControl, _txControl;
    private readonly uint _transmitEmpty, _receiveFull, _gpPending, _receiveEnable, _gpInterruptEnable, _gpRequest, _gpRequestAll;
    private readonly VringKicks? _kicks;
    private readonly uint _fixedValue;

    /// <summary>An MU whose side A is <paramref name="registers"/>.</summary>
    /// <param name="registers">The MU's register block (side A).</param>
    /// <param name="txChannel">Channel rung (0-3): TRn or GIRn.</param>
    /// <param name="rxChannel">Channel received (0-3): RRn or GIPn.</param>
    /// <param name="signal">Data registers or general-purpose interrupts.</param>
    /// <param name="ringValue">Data mode: one fixed word written to TRn for every kick, whichever vring (firmware that reads no word).</param>
    /// <param name="layout">The register layout (SoC generation).</param>
    /// <param name="vringValues">Data mode: the words for a kick of vring 0 and of vring 1. Without this and <paramref name="ringValue"/>,
    /// imx_rproc's words for the first vdev: <see cref="LinuxWord"/> of notify ids 0 and 1 (0x0 and 0x10000).</param>
    public ImxMessagingUnit(IMmioRegisters registers, int txChannel = 1, int rxChannel = 1, ImxMuSignal signal = ImxMuSignal.Data, uint? ringValue = null, ImxMuLayout layout = ImxMuLayout.V1,
        IReadOnlyList<uint>? vringValues = null)
        : this(registers, txChannel, rxChannel, signal, ringValue, layout, vringValues, notifyIds: null)
    {
    }

    /// <summary>As the public constructor; without words given, each kick's word is <see cref="LinuxWord"/> of the vring's id in <paramref name="notifyIds"/> at that kick.</summary>
    internal ImxMessagingUnit(IMmioRegisters registers, int txChannel, int rxChannel, ImxMuSignal signal, uint? ringValue, ImxMuLayout layout,
        IReadOnlyList<uint>? vringValues, VringNotifyIds? notifyIds)
    {
        ArgumentNullException.ThrowIfNull(registers);
        Channel(txChannel, nameof(txChannel));
        Channel(rxChannel, nameof(rxChannel));
        if (!Enum.IsDefined(signal))
            throw new ArgumentOutOfRangeException(nameof(signal), signal, "Not an i.MX MU signal.");
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "Not an i.MX MU layout.");
        if (signal == ImxMuSignal.GeneralPurpose && ringValue is { } fixedWord && fixedWord != 0)
            throw new ArgumentException($"i.MX MU: a general-purpose interrupt carries no word; ringValue 0x{fixedWord:X} applies to data mode only.", nameof(ringValue));
        if (signal == ImxMuSignal.GeneralPurpose && vringValues is not null)
            throw new ArgumentException("i.MX MU: a general-purpose interrupt carries no word; vringValues apply to data mode only.", nameof(vringValues));
        var kicks = notifyIds is null
            ? MailboxWords.Kicks(ringValue, vringValues, LinuxWord(0), LinuxWord(1), "i.MX MU")
            : MailboxWords.Kicks(ringValue, vringValues, notifyIds, static id => id << 16, "i.MX MU");
        long needed = RequiredSize(layout);
        if (registers.Size < needed)
            throw new ArgumentException($"i.MX MU {layout} needs 0x{needed:X} bytes of registers; '{registers.Name}' has 0x{registers.Size:X}.", nameof(registers));
        _registers = registers;
        _tx = txChannel;
        _rx = rxChannel;
        Signal = signal;
        Layout = layout;
        if (signal == ImxMuSignal.Data)
        {
            _kicks = kicks;
            _fixedValue = ringValue ?? 0;
        }
        bool v1 = layout == ImxMuLayout.V1;
        _txData = (v1 ? 0x00 : 0x200) + 4 * txChannel;
        _rxData = (v1 ? 0x10 : 0x280) + 4 * rxChannel;
        _txStatus = v1 ? 0x20 : 0x124;   // TSR
        _rxStatus = v1 ? 0x20 : 0x12C;   // RSR
        _gpStatus = v1 ? 0x20 : 0x118;   // GSR
        _rxControl = v1 ? 0x24 : 0x128;  // RCR
        _gpEnable = v1 ? 0x24 : 0x110;   // GIER
        _gpControl = v1 ? 0x24 : 0x114;  // GCR
        _txControl = v1 ? 0x24 : 0x120;  // TCR
        // V1 packs the four channels of each function into one nibble, channel 0 at the top bit.
        _transmitEmpty = Bit(v1, 20, txChannel);
        _receiveFull = Bit(v1, 24, rxChannel);
        _gpPending = Bit(v1, 28, rxChannel);
        _receiveEnable = Bit(v1, 24, rxChannel);
        _gpInterruptEnable = Bit(v1, 28, rxChannel);
        _gpRequest = Bit(v1, 16, txChannel);
        _gpRequestAll = v1 ? 0xFu << 16 : 0xFu;
    }

    /// <summary>Bytes of registers the layout needs mapped.</summary>
    public static long RequiredSize(ImxMuLayout layout) => layout == ImxMuLayout.V1 ? 0x28 : 0x2A0;

    /// <summary>Data registers or general-purpose interrupts.</summary>
    public ImxMuSignal Signal { get; }

    /// <summary>The word <see cref="TryRing()"/> writes to TRn in data mode: the fixed word, or vring 1's (a message for the remote).</summary>
    public uint RingValue => _kicks?.Signal(1) ?? _fixedValue;

    /// <summary>Data mode: the words of a kick of vring 0 and vring 1; null when one fixed word is sent for every kick.</summary>
    public IReadOnlyList<uint>? VringValues => _kicks is { } kicks ? [kicks.Signal(0), kicks.Signal(1)] : null;

    /// <summary>imx_rproc's word for a kick of the vring with notify id <paramref name="notifyId"/>: the id in the upper half-word.</summary>
    public static uint LinuxWord(int notifyId) => (uint)notifyId << 16;

    /// <summary>The register layout.</summary>
    public ImxMuLayout Layout { get; }

    /// <inheritdoc />
    public string Name => $"i.MX MU ({Layout}, {Signal}, tx {_tx}, rx {_rx}) at '{_registers.Name}'";

    /// <inheritdoc />
    public void Start()
    {
        lock (_gate.Lifecycle)
        {
            // Alone on the registers while it sets them up (as Stop): a ring under way finishes first (a general-purpose
            // one owns the control register and would write back what it read before our enables), later rings and
            // acknowledges are refused until the enables are made, so Start returns with them in place.
            _gate.Close();
            try
            {
                _kicks?.Clear();
                Take();
                Volatile.Write(ref _receiving, 1);
                OwnAndMake(EnableRequest);
            }
            finally
            {
                _gate.Open();
            }
        }
    }

    // The enables Start sets (receiving) or Stop clears; one control-register owner applies them (see UpdateControl).
    private void ApplyEnables()
    {
        bool data = Signal == ImxMuSignal.Data;
        uint ours = data ? _receiveEnable : _gpInterruptEnable;
        if (Volatile.Read(ref _receiving) == 0)
        {
            SetControl(data ? _rxControl : _gpEnable, 0, ours);
            return;
        }
        // Side A's line is ours alone: enable our receive source and clear every other enable an earlier
        // user left (TIEn with TRn empty, another channel's RIEn or GIEn): we never take those events, so
        // they would hold the line up after every acknowledge.
        if (Layout == ImxMuLayout.V1)
        {
            SetControl(_rxControl, ours, AllEnablesV1);
            return;
        }
        SetControl(_txControl, 0, AllChannelsV2);
        SetControl(data ? _gpEnable : _rxControl, 0, AllChannelsV2);
        SetControl(data ? _rxControl : _gpEnable, ours, AllChannelsV2);
    }

    // V1: GIE0-3, RIE0-3 and TIE0-3 (bits 31-20) of the one control register; V2: channels 0-3 of each.
    private const uint AllEnablesV1 = 0xFFF0_0000, AllChannelsV2 = 0xF;

    /// <inheritdoc />
    public bool TryRing() => TryRing(1);

    /// <inheritdoc />
    public bool TryRing(int vring)
    {
        // Stopped: nothing is written (the registers may be another mailbox's by now); the kick is not delivered.
        if (!_gate.TryEnter())
            return false;
        try
        {
            return _kicks is { } kicks ? kicks.Ring(vring, this) : TryRingFixed();
        }
        finally
        {
            _gate.Exit();
        }
    }

    bool IVringSignalSink.TrySendSignal(uint signal) => TryWriteData(signal);

    // TEn clear: the peer has not read RRn yet; writing TRn now would overwrite that word.
    private bool TryWriteData(uint word) =>
        _registers.TryRead32(_txStatus, out uint status) && (status & _transmitEmpty) != 0 && _registers.TryWrite32(_txData, word);

    private bool TryRingFixed() =>
        Signal == ImxMuSignal.Data ? TryWriteData(RingValue) : (UpdateControl(RingRequest) & RingRequest) != 0;

    // A general-purpose ring: a read-modify-write of the control register (on V1 the one that also holds every enable).
    private bool RequestGeneralPurpose()
    {
        // GIRn still set: the peer has not cleared GIPn yet, so a request is pending.
        if (!_registers.TryRead32(_gpControl, out uint control) || (control & _gpRequest) != 0)
            return false;
        // Write 0 to the other GIR bits (no effect), so that a request the hardware cleared meanwhile is not raised again.
        return _registers.TryWrite32(_gpControl, (control & ~_gpRequestAll) | _gpRequest);
    }

    /// <summary>
    /// Makes the control-register changes in <paramref name="requests"/> (a general-purpose ring; Start and Stop make
    /// their enables as the owner too, with the gate closed); returns those this call made. Every change is a read-modify-write, and on V1 the ring's register
    /// holds every enable too, so two at once would write back each other's stale bits (a Stop's cleared enable set
    /// again by a ring that read before it). One thread at a time is the owner and makes them; a caller that finds
    /// the owner busy leaves its request for it, and the owner looks again after releasing (as <see cref="VringKicks"/>).
    /// Never blocks, never allocates.
    /// </summary>
    private int UpdateControl(int requests)
    {
        Interlocked.Or(ref _controlPending, requests);
        int made = 0;
        // The full fences of the Or above and of the release below: a request is either seen by the owner's look
        // after it released, or its caller's exchange finds the owner gone and makes it itself.
        while (Volatile.Read(ref _controlPending) != 0 && Interlocked.CompareExchange(ref _controlOwner, 1, 0) == 0)
            made |= MakeAsOwner();
        return made;
    }

    // Called holding ownership of the control register: makes every pending change, then releases.
    private int MakeAsOwner()
    {
        int made = 0;
        try
        {
            int taken = Interlocked.Exchange(ref _controlPending, 0);
            if ((taken & EnableRequest) != 0)
            {
                ApplyEnables();
                made |= EnableRequest;
            }
            // Every caller is a ring inside the gate, or Start/Stop holding it closed: no ring request is made
            // once Stop has closed it (the registers may be another mailbox's by then).
            if ((taken & RingRequest) != 0 && RequestGeneralPurpose())
                made |= RingRequest;
        }
        finally
        {
            Interlocked.Exchange(ref _controlOwner, 0);
        }
        return made;
    }

    private const int RingRequest = 1, EnableRequest = 2;
    private int _controlPending, _controlOwner, _receiving;
    private readonly MailboxGate _gate = new();

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
    /// <remarks>After Stop (until Start) nothing is read or cleared: <see cref="MailboxReceipt.NotChecked"/>. The status
    /// is left for whoever owns the controller next.</remarks>
    public MailboxReceipt Acknowledge()
    {
        if (!_gate.TryEnter())
            return MailboxReceipt.NotChecked;
        try
        {
            var receipt = Take();
            // A kick the MU could not take at its ring (the previous word unread) may go now.
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
        if (Signal == ImxMuSignal.Data)
        {
            if (!_registers.TryRead32(_rxStatus, out uint status))
                return MailboxReceipt.NotChecked;
            if ((status & _receiveFull) == 0)
                return new MailboxReceipt(0, 0);
            // Reading RRn clears RFn, which drops the receive interrupt.
            return _registers.TryRead32(_rxData, out uint word) ? new MailboxReceipt(1, word) : MailboxReceipt.NotChecked;
        }
        if (!_registers.TryRead32(_gpStatus, out uint gsr))
            return MailboxReceipt.NotChecked;
        if ((gsr & _gpPending) == 0)
            return new MailboxReceipt(0, 0);
        // GIPn is write-1-to-clear; clearing it also clears the peer's GIRn.
        return _registers.TryWrite32(_gpStatus, _gpPending) ? new MailboxReceipt(1, 0) : MailboxReceipt.NotChecked;
    }

    /// <inheritdoc />
    public void Stop()
    {
        lock (_gate.Lifecycle)
        {
            // From here until Start this mailbox touches no register once Stop has returned: a ring, a kept kick or an
            // acknowledge made later could land over what a mailbox made next over the same registers has set up, or take
            // its interrupt. Stop may wait (Ring never does): a ring or acknowledge under way (a few register accesses,
            // never a wait) finishes before the gate is closed, so the owner of the control register, if any, is done.
            _gate.Close();
            _kicks?.Close();
            Volatile.Write(ref _receiving, 0);
            // The enable is cleared by this call before it returns: the caller may unmap the registers next.
            OwnAndMake(EnableRequest);
        }
    }

    // Start and Stop, with the gate closed: nobody else can own the control register any more, so this takes it at once.
    private void OwnAndMake(int request)
    {
        Interlocked.Or(ref _controlPending, request);
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _controlOwner, 1, 0) != 0)
            spin.SpinOnce();
        MakeAsOwner();
    }

    private void SetControl(long offset, uint set, uint clear)
    {
        if (!_registers.TryRead32(offset, out uint value))
            return;
        // On V1 the control register also holds the GIR bits: write them as 0 (no effect) rather than back.
        if (offset == _gpControl)
            value &= ~_gpRequestAll;
        _registers.TryWrite32(offset, (value & ~clear) | set);
    }

    private static uint Bit(bool v1, int nibble, int channel) => v1 ? 1u << (nibble + 3 - channel) : 1u << channel;

    private static void Channel(int channel, string name)
    {
        if ((uint)channel > 3)
            throw new ArgumentOutOfRangeException(name, channel, $"i.MX MU {name} {channel} is not a channel 0-3.");
    }

    /// <summary>The controller, for logs.</summary>
    public override string ToString() => Name;
}
