using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// The ring side of a <see cref="UioDoorbell"/>: a 32-bit mailbox register inside a mapped region
/// (usually a UIO map), written with <see cref="RingValue"/> to ring. Optionally a status register
/// whose <see cref="StatusFullMask"/> bits say "FIFO full": then the ring is refused at once rather
/// than waited for, because a mailbox that never drains must not hang the sender. It has no receive
/// register: <see cref="Acknowledge"/> reads nothing, so its interrupt must clear itself (edge-triggered,
/// or cleared by the peer's protocol); real controllers have their own <see cref="IMailbox"/>. After
/// <see cref="Stop"/> (until <see cref="Start"/>) a ring writes nothing and returns false; a ring under way when Stop
/// is called finishes before Stop returns.
/// </summary>
public sealed class UioMailbox : IMailbox
{
    private readonly MmioRegisterBlock _registers;
    private readonly MailboxGate _gate = new();

    /// <summary>A mailbox rung by writing <paramref name="ringValue"/> to the 32-bit register at <paramref name="registerOffset"/> of <paramref name="region"/>; with <paramref name="statusOffset"/>, a ring is refused while <paramref name="statusFullMask"/> bits are set there.</summary>
    public UioMailbox(SharedMemoryRegion region, long registerOffset, uint ringValue = 1, long? statusOffset = null, uint statusFullMask = 0)
    {
        ArgumentNullException.ThrowIfNull(region);
        CheckRegister(region, registerOffset, nameof(registerOffset));
        if (statusOffset is long status)
        {
            CheckRegister(region, status, nameof(statusOffset));
            if (statusFullMask == 0)
                throw new ArgumentOutOfRangeException(nameof(statusFullMask), statusFullMask, $"Mailbox in '{region.Name}': a status register at 0x{status:X} needs a non-zero 'FIFO full' mask.");
        }
        else if (statusFullMask != 0)
        {
            throw new ArgumentException($"Mailbox in '{region.Name}': statusFullMask 0x{statusFullMask:X} given without a status register offset.", nameof(statusFullMask));
        }
        Region = region;
        RegisterOffset = registerOffset;
        RingValue = ringValue;
        StatusOffset = statusOffset;
        StatusFullMask = statusFullMask;
        _registers = new MmioRegisterBlock(region, 0, region.Size & ~3L);
    }

    /// <inheritdoc />
    public string Name => $"mailbox register 0x{RegisterOffset:X} in '{Region.Name}'";

    /// <inheritdoc />
    public void Start()
    {
        lock (_gate.Lifecycle)
        {
            // No receive side to prepare: rings may go again.
            _gate.Close();
            _gate.Open();
        }
    }

    /// <inheritdoc />
    public bool TryRing()
    {
        // Stopped: nothing is written (the register may be another owner's by now); the kick is not delivered.
        if (!_gate.TryEnter())
            return false;
        try
        {
            if (StatusOffset is long status)
            {
                if (!_registers.TryRead32(status, out uint value) || (value & StatusFullMask) != 0)
                    return false;
            }
            return _registers.TryWrite32(RegisterOffset, RingValue);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <inheritdoc />
    public MailboxReceipt Acknowledge() => MailboxReceipt.NotChecked;

    /// <inheritdoc />
    public void Stop()
    {
        lock (_gate.Lifecycle)
        {
            // Nothing was enabled at the controller; a ring under way finishes first, later ones write nothing.
            _gate.Close();
        }
    }

    /// <summary>The mapped region holding the registers.</summary>
    public SharedMemoryRegion Region { get; }

    /// <summary>Offset of the mailbox (doorbell) register in <see cref="Region"/>.</summary>
    public long RegisterOffset { get; }

    /// <summary>Value written to ring.</summary>
    public uint RingValue { get; }

    /// <summary>Offset of the status register, if the mailbox has one.</summary>
    public long? StatusOffset { get; }

    /// <summary>Status bits that mean "FIFO full, do not write".</summary>
    public uint StatusFullMask { get; }

    private static void CheckRegister(SharedMemoryRegion region, long offset, string name)
    {
        if (offset < 0 || offset > region.Size - sizeof(uint) || (offset & (sizeof(uint) - 1)) != 0)
            throw new ArgumentOutOfRangeException(name, offset,
                $"Mailbox {name} 0x{offset:X} is not a 4-byte-aligned register inside '{region.Name}' (0x{region.Size:X} bytes).");
    }
}
