using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The remote (virtio device) side: sends by filling the host's rx buffers taken from vring 0 and
/// receives the host's tx buffers from vring 1, returning each on the used ring with the
/// descriptor's full length (OpenAMP hosts reuse it as the next buffer size). Every chain is
/// validated by the virtqueue (bounds, loops, translation) before any byte is touched here.
/// </summary>
internal sealed class DeviceRoleTransport : IRpmsgTransport
{
    private readonly VirtqueueDevice _vq0;
    private readonly VirtqueueDevice _vq1;
    private readonly IDoorbell _doorbell;
    private readonly SharedMemoryRegion[] _regions;
    private readonly RegionHandle[] _handles;
    // The device role is single-consumer per queue; many senders share vq0 and held-buffer releases
    // share vq1, so each queue gets a spin gate (never a sleeping lock on the kick path).
    private SpinGate _txLock;
    private SpinGate _rxLock;
    // Per-head private copies of where each taken buffer is, so nothing is re-read from the ring.
    // Heads are numbered per queue, so vq0 (our tx) and vq1 (our rx) each get their own arrays.
    private readonly int[] _txRegionIndex;
    private readonly long[] _txOffset;
    private readonly int[] _rxLength;
    private readonly Stack<int> _cancelled;

    internal DeviceRoleTransport(RpmsgVdevLayout layout, bool eventIndex, string name, IDoorbell doorbell)
    {
        _doorbell = doorbell;
        BufferSize = layout.BufferSize;
        var vringLayout = new VringLayout(layout.VringNum, layout.VringAlign);
        _vq0 = new VirtqueueDevice(name + ".vq0", DriverRoleTransport.PlaceVring(layout.Memory, layout.Vring0Address, vringLayout), layout.Memory, eventIndex);
        _vq1 = new VirtqueueDevice(name + ".vq1", DriverRoleTransport.PlaceVring(layout.Memory, layout.Vring1Address, vringLayout), layout.Memory, eventIndex);
        _regions = layout.Memory.Regions.ToArray();
        _handles = _regions.Select(r => r.Bind()).ToArray();
        _txRegionIndex = new int[layout.VringNum];
        _txOffset = new long[layout.VringNum];
        _rxLength = new int[layout.VringNum];
        _cancelled = new Stack<int>(layout.VringNum);
        // Notifications for "host posted rx buffers" are only wanted while a sender waits.
        _vq0.DisableNotifications();
    }

    public int BufferSize { get; }

    private int IndexOf(SharedMemoryRegion region)
    {
        for (int i = 0; i < _regions.Length; i++)
        {
            if (ReferenceEquals(_regions[i], region))
                return i;
        }
        throw new InvalidOperationException($"region '{region.Name}' is not in the address map");
    }

    // ---- tx: the host's rx buffers -------------------------------------------------------------

    public bool TryAcquireTx(out RpmsgBufferRef buffer)
    {
        int head;
        _txLock.Enter();
        try
        {
            if (_cancelled.Count > 0)
            {
                head = _cancelled.Pop();
            }
            else
            {
                if (!_vq0.TryTakeAvailable(out var chain))
                {
                    buffer = default;
                    return false;
                }
                head = chain.Head;
                if (chain.SegmentCount != 1 || !chain[0].DeviceWritable)
                {
                    _vq0.PushUsed(head, 0);
                    throw new RpmsgProtocolException(FaultRule.BufferShape, "vq0 chain", (ulong)chain.SegmentCount,
                        $"host rx buffer at head {head} must be one device-writable descriptor (segments {chain.SegmentCount})");
                }
                int length = (int)Math.Min(chain[0].Length, int.MaxValue);
                if (length != BufferSize)
                {
                    _vq0.PushUsed(head, 0);
                    throw new RpmsgConfigurationException(FaultRule.BufferSizeMismatch, "buffer size", (ulong)BufferSize, (ulong)length,
                        $"the host posts {length}-byte buffers but this side is configured for {BufferSize}-byte buffers");
                }
                _txRegionIndex[head] = IndexOf(chain[0].Region);
                _txOffset[head] = chain[0].Offset;
            }
            // Built under the lock: a head the host republishes cannot mix two buffers' fields.
            // Every accepted host rx buffer is exactly BufferSize long (checked above).
            buffer = new RpmsgBufferRef(head, _handles[_txRegionIndex[head]], _txOffset[head], BufferSize);
            return true;
        }
        finally
        {
            _txLock.Exit();
        }
    }

    public void SubmitTx(int id, int length)
    {
        bool notify;
        _txLock.Enter();
        try
        {
            _vq0.PushUsed(id, (uint)length);
            notify = _vq0.NotifyPrepare();
        }
        finally
        {
            _txLock.Exit();
        }
        if (notify)
            _doorbell.Ring();
    }

    public void CancelTx(int id)
    {
        _txLock.Enter();
        _cancelled.Push(id);
        _txLock.Exit();
    }

    public bool TxAvailable
    {
        get
        {
            _txLock.Enter();
            try
            {
                return _cancelled.Count > 0 || _vq0.HasAvailable;
            }
            finally
            {
                _txLock.Exit();
            }
        }
    }

    public void ArmTxNotifications(bool armed)
    {
        _txLock.Enter();
        try
        {
            if (armed)
                _vq0.EnableNotifications();
            else
                _vq0.DisableNotifications();
        }
        finally
        {
            _txLock.Exit();
        }
    }

    // ---- rx: the host's tx buffers ---------------------------------------------------------------

    public bool TryReceive(out RpmsgBufferRef buffer)
    {
        _rxLock.Enter();
        try
        {
            if (!_vq1.TryTakeAvailable(out var chain))
            {
                buffer = default;
                return false;
            }
            int head = chain.Head;
            if (chain.SegmentCount != 1 || chain[0].DeviceWritable)
            {
                _vq1.PushUsed(head, 0);
                throw new RpmsgProtocolException(FaultRule.BufferShape, "vq1 chain", (ulong)chain.SegmentCount,
                    $"host tx buffer at head {head} must be one readable descriptor (segments {chain.SegmentCount})");
            }
            int length = (int)Math.Min(chain[0].Length, int.MaxValue);
            _rxLength[head] = length;
            buffer = new RpmsgBufferRef(head, _handles[IndexOf(chain[0].Region)], chain[0].Offset, Math.Min(length, BufferSize));
            return true;
        }
        finally
        {
            _rxLock.Exit();
        }
    }

    public void ReleaseRx(int id)
    {
        _rxLock.Enter();
        try
        {
            _vq1.PushUsed(id, (uint)_rxLength[id]);
        }
        finally
        {
            _rxLock.Exit();
        }
    }

    public void FlushRx()
    {
        bool notify;
        _rxLock.Enter();
        try
        {
            notify = _vq1.NotifyPrepare();
        }
        finally
        {
            _rxLock.Exit();
        }
        if (notify)
            _doorbell.Ring();
    }

    public bool RxPending => _vq1.HasAvailable;

    public void DisableRxNotifications()
    {
        _rxLock.Enter();
        try
        {
            _vq1.DisableNotifications();
        }
        finally
        {
            _rxLock.Exit();
        }
    }

    public bool EnableRxNotifications()
    {
        _rxLock.Enter();
        try
        {
            return _vq1.EnableNotifications();
        }
        finally
        {
            _rxLock.Exit();
        }
    }

    public Fault? Fault => _vq0.Fault ?? _vq1.Fault;

    public void Dispose()
    {
    }

    public override string ToString() => $"remote: vq0 {_vq0} | vq1 {_vq1}";
}
