using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The host (virtio driver) side: owns the buffer pool. Rx buffers (first half of the pool) are
/// posted device-writable on vring 0; tx buffers (second half) are handed out from a private free
/// stack and posted readable on vring 1. Which buffer came back is decided by the queue's private
/// shadow (the token), never by anything the peer wrote.
/// </summary>
internal sealed class DriverRoleTransport : IRpmsgTransport
{
    private readonly VirtqueueDriver _rxq;
    private readonly VirtqueueDriver _txq;
    private readonly IDoorbell _doorbell;
    private readonly RegionHandle _pool;
    private readonly long _poolOffset;
    private readonly ulong _poolAddress;
    private readonly int _rxCount;
    private readonly int[] _freeTx;
    private int _freeCount;
    private SpinGate _freeLock;
    private int _reclaiming;

    internal DriverRoleTransport(RpmsgVdevLayout layout, bool eventIndex, string name, IDoorbell doorbell)
    {
        _doorbell = doorbell;
        BufferSize = layout.BufferSize;
        var vringLayout = new VringLayout(layout.VringNum, layout.VringAlign);
        _rxq = new VirtqueueDriver(name + ".vq0", PlaceVring(layout.Memory, layout.Vring0Address, vringLayout), layout.Memory, eventIndex);
        _txq = new VirtqueueDriver(name + ".vq1", PlaceVring(layout.Memory, layout.Vring1Address, vringLayout), layout.Memory, eventIndex);
        var (poolRegion, poolOffset) = layout.Memory.Translate(layout.BufferPoolAddress, (ulong)layout.BufferCount * (ulong)layout.BufferSize);
        _pool = poolRegion.Bind();
        _poolOffset = poolOffset;
        _poolAddress = layout.BufferPoolAddress;
        _rxCount = layout.BufferCount / 2;
        _freeTx = new int[layout.BufferCount - _rxCount];
        for (int id = layout.BufferCount - 1; id >= _rxCount; id--)
            _freeTx[_freeCount++] = id;
        for (int id = 0; id < _rxCount; id++)
        {
            if (!_rxq.TryAdd(Address(id), (uint)BufferSize, deviceWritable: true, token: id))
                throw new InvalidOperationException($"vring 0 has no room for rx buffer {id}");
        }
        _rxq.KickPrepare();
        // Tx-returned notifications are armed only while a sender waits.
        _txq.DisableInterrupts();
    }

    internal static Vring PlaceVring(AddressMap memory, ulong address, VringLayout layout)
    {
        var (region, offset) = memory.Translate(address, (ulong)layout.TotalSize);
        return new Vring(region.Bind(), offset, layout);
    }

    public int BufferSize { get; }

    private ulong Address(int id) => _poolAddress + (ulong)id * (ulong)BufferSize;

    private RpmsgBufferRef Buffer(int id, int length) => new(id, _pool, _poolOffset + (long)id * BufferSize, length);

    // ---- tx ------------------------------------------------------------------------------------

    public bool TryAcquireTx(out RpmsgBufferRef buffer)
    {
        if (TryPop(out int id) || (TryReclaim() && TryPop(out id)))
        {
            buffer = Buffer(id, BufferSize);
            return true;
        }
        buffer = default;
        return false;
    }

    private bool TryReclaim()
    {
        // One reclaimer at a time (the used ring has one consumer). A sender that finds another
        // reclaiming waits for it (a few ring reads) and then retries the free stack, rather than
        // reporting "none free" while buffers are being pushed.
        if (Interlocked.CompareExchange(ref _reclaiming, 1, 0) != 0)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _reclaiming) != 0)
                spin.SpinOnce(sleep1Threshold: -1);
            return true;
        }
        bool any = false;
        try
        {
            while (_txq.TryGetUsed(out int token, out _))
            {
                if ((uint)(token - _rxCount) >= (uint)_freeTx.Length)
                    throw new InvalidOperationException($"vq1 returned token {token}, which is not a tx buffer");
                Push(token);
                any = true;
            }
        }
        finally
        {
            Volatile.Write(ref _reclaiming, 0);
        }
        return any;
    }

    public void SubmitTx(int id, int length)
    {
        if (!_txq.TryAdd(Address(id), (uint)length, deviceWritable: false, token: id))
            throw new InvalidOperationException($"vring 1 has no free descriptor for tx buffer {id}");
        if (_txq.KickPrepare())
            _doorbell.Ring();
    }

    public void CancelTx(int id) => Push(id);

    public bool TxAvailable => Volatile.Read(ref _freeCount) > 0 || _txq.HasUsed;

    public void ArmTxNotifications(bool armed)
    {
        // The interrupt settings belong to the used ring's single consumer: take the reclaim role.
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _reclaiming, 1, 0) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
        try
        {
            if (armed)
                _txq.EnableInterrupts();
            else
                _txq.DisableInterrupts();
        }
        finally
        {
            Volatile.Write(ref _reclaiming, 0);
        }
    }

    // The spin gate is held for two array operations, never across anything that can block.
    private void Push(int id)
    {
        _freeLock.Enter();
        _freeTx[_freeCount++] = id;
        _freeLock.Exit();
    }

    private bool TryPop(out int id)
    {
        if (Volatile.Read(ref _freeCount) == 0)
        {
            id = -1;
            return false;
        }
        _freeLock.Enter();
        bool ok = _freeCount > 0;
        id = ok ? _freeTx[--_freeCount] : -1;
        _freeLock.Exit();
        return ok;
    }

    // ---- rx ------------------------------------------------------------------------------------

    public bool TryReceive(out RpmsgBufferRef buffer)
    {
        if (_rxq.TryGetUsed(out int token, out uint length))
        {
            if ((uint)token >= (uint)_rxCount)
                throw new InvalidOperationException($"vq0 returned token {token}, which is not an rx buffer");
            buffer = Buffer(token, (int)length);
            return true;
        }
        buffer = default;
        return false;
    }

    public void ReleaseRx(int id)
    {
        if (!_rxq.TryAdd(Address(id), (uint)BufferSize, deviceWritable: true, token: id))
            throw new InvalidOperationException($"vring 0 has no room to re-post rx buffer {id}");
    }

    public void FlushRx()
    {
        if (_rxq.KickPrepare())
            _doorbell.Ring();
    }

    public bool RxPending => _rxq.HasUsed;

    public void DisableRxNotifications() => _rxq.DisableInterrupts();

    public bool EnableRxNotifications() => _rxq.EnableInterrupts();

    public Fault? Fault => _rxq.Fault ?? _txq.Fault;

    public void Dispose()
    {
    }

    public override string ToString() =>
        $"host: vq0 {_rxq} | vq1 {_txq} | free tx {Volatile.Read(ref _freeCount)}/{_freeTx.Length}";
}
