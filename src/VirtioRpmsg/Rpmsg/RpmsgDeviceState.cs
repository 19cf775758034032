namespace VirtioRpmsg.Rpmsg;

/// <summary>Where an rpmsg device is in its life.</summary>
public enum RpmsgDeviceState
{
    /// <summary>Built, not started.</summary>
    Created,
    /// <summary>Started; waiting for the link (the device side waits for DRIVER_OK).</summary>
    Starting,
    /// <summary>The link is up: messages flow.</summary>
    Running,
    /// <summary>The peer violated the protocol; the device refuses work until recreated.</summary>
    Broken,
    /// <summary>Stopped (remote not running) or disposed; sends fail at once.</summary>
    Stopped,
}
