namespace VirtioRpmsg.Virtio;

// Interrupt suppression: the driver's half of the notification protocol (used_event or NO_INTERRUPT).
public sealed partial class VirtqueueDriver
{
    /// <summary>
    /// Whether a take moves used_event along while interrupts are on (default true). False for a consumer polling
    /// beside a thread asleep waiting for an interrupt: the event stays where that thread armed it, so the device
    /// interrupts once, not for every chain taken. Whoever sleeps next re-arms (<see cref="EnableInterrupts"/>).
    /// </summary>
    internal bool FollowsEvent { get; set; } = true;

    /// <summary>Asks the device not to interrupt (NO_INTERRUPT flag, or a used_event far from any index it can reach). A hint: spurious interrupts stay possible.</summary>
    public void DisableInterrupts()
    {
        _health.ThrowIfBroken();
        // Already off and still out of the device's reach: a rewrite would only pull the line the device reads after
        // every publication back to this core (a polling dispatcher disables once per loop).
        if (_disabledHint && (!EventIndex || VringEvent.StillFar(_disabledAt, _lastUsed, _num)))
            return;
        using var lease = _vring.Acquire();
        _interruptsEnabled = false;
        _disabledHint = true;
        _disabledAt = _lastUsed;
        _vring.DriverControl.Disable(lease, EventIndex, _lastUsed, _num);
    }

    /// <summary>
    /// Asks the device to interrupt on the next used chain, then re-checks: false if used chains are
    /// already pending (process them instead of sleeping; the device may not interrupt for them).
    /// </summary>
    public bool EnableInterrupts()
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        _interruptsEnabled = true;
        _disabledHint = false;
        return _vring.DriverControl.Enable(lease, EventIndex, _lastUsed);
    }
}
