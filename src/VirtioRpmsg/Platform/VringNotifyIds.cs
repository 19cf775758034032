namespace VirtioRpmsg.Platform;

/// <summary>
/// The notify ids of one rpmsg vdev's two vrings as this side knows them: first what Linux assigns when every vdev
/// of the table is a two-vring one (vdev k: 2k, 2k+1), then, once the resource table is loaded, the ids in it (a
/// host writes them there first, numbering every vring of every vdev from 0 in table order, as Linux's
/// rproc_alloc_vring does). A mailbox that names the kicked vring by its id reads them at each kick, so one made
/// before the table was loaded still sends the ids the remote was given. Read without locks, never allocating.
/// </summary>
internal sealed class VringNotifyIds
{
    private uint _vring0, _vring1;

    internal VringNotifyIds(int vdev)
    {
        _vring0 = (uint)(2 * vdev);
        _vring1 = (uint)(2 * vdev + 1);
    }

    /// <summary>The notify id of vring <paramref name="vring"/> (0 or 1).</summary>
    internal uint Get(int vring) => vring == 0 ? Volatile.Read(ref _vring0) : Volatile.Read(ref _vring1);

    /// <summary>Takes the ids the resource table gives the two vrings.</summary>
    internal void Set(uint vring0, uint vring1)
    {
        Volatile.Write(ref _vring0, vring0);
        Volatile.Write(ref _vring1, vring1);
    }
}
