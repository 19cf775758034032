namespace VirtioRpmsg.Rpmsg;

/// <summary>Which end of the virtio device this side plays.</summary>
public enum RpmsgRole
{
    /// <summary>The virtio driver ("host", "master"): owns the buffer pool and fills the rx ring. Linux normally.</summary>
    Host,
    /// <summary>The virtio device ("remote"): uses the host's buffers. The remote processor normally; here, the simulated remote.</summary>
    Remote,
}
