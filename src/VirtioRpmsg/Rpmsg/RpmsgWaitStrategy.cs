namespace VirtioRpmsg.Rpmsg;

/// <summary>How the receive dispatcher waits for the peer.</summary>
public enum RpmsgWaitStrategy
{
    /// <summary>Block on the doorbell (lowest CPU; a wake-up costs a cross-core interrupt).</summary>
    Interrupt,
    /// <summary>
    /// Spin on the rings on a dedicated thread (lowest latency; costs a core). After
    /// <see cref="RpmsgDeviceOptions.BusyPollIdleTimeout"/> without traffic it falls back to blocking,
    /// so an idle device never burns a core forever.
    /// </summary>
    BusyPoll,
    /// <summary>Spin for <see cref="RpmsgDeviceOptions.HybridSpin"/>, then block on the doorbell.</summary>
    Hybrid,
    /// <summary>No dispatcher thread: the application calls <see cref="RpmsgDevice.Poll"/> from its own loop.</summary>
    CallerPoll,
}
