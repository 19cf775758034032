namespace VirtioRpmsg.Rpmsg;

/// <summary>Whose conventions the other side follows where its stack departs from the virtio spec.</summary>
public enum RpmsgPeerConventions
{
    /// <summary>The virtio spec, as Linux and OpenAMP follow it (resource table, status byte, features, hints honoured).</summary>
    Virtio,

    /// <summary>
    /// RPMsg-Lite (NXP): no resource table; its master marks every descriptor device-writable, tx buffers
    /// included, and sets NO_INTERRUPT on both vrings at start-up while still expecting a kick for every
    /// message (its own remote looks at a different flag). A remote with these conventions accepts
    /// writable tx buffers and kicks for every message it sends. See docs/interop.md.
    /// </summary>
    RpmsgLite,
}
