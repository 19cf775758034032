using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// Reference model of one virtqueue (both roles) in plain terms: unbounded 64-bit counters instead of
/// 16-bit indices, queues of chains instead of rings, and the notification rules as "the other side's
/// event lies in the window of entries just published".
/// </summary>
internal sealed class VirtqueueModel
{
    private readonly Queue<ModelChain> _notTaken = new();
    private readonly Queue<(ModelChain Chain, uint Length)> _used = new();
    private long _added, _published, _consumed, _pushed, _reclaimed, _lastNotify;
    private long _availEvent, _usedEvent;
    private bool _interruptsEnabled = true, _notificationsEnabled = true;

    public VirtqueueModel(int num, bool eventIndex)
    {
        Num = num;
        EventIndex = eventIndex;
        Free = num;
    }

    public int Num { get; }

    public bool EventIndex { get; }

    public int Free { get; private set; }

    public long Added => _added;

    public bool HasUsed => _pushed > _reclaimed;

    public bool HasAvailable => _published > _consumed;

    public bool Add(ModelChain chain)
    {
        if (Free < chain.Segments.Length)
            return false;
        Free -= chain.Segments.Length;
        _notTaken.Enqueue(chain);
        _added++;
        return true;
    }

    public bool Kick()
    {
        long old = _published;
        _published = _added;
        return _published > old && _notificationsEnabled && (!EventIndex || (old <= _availEvent && _availEvent < _published));
    }

    public ModelChain? Take()
    {
        if (_consumed == _published)
            return null;
        _consumed++;
        if (_notificationsEnabled)
            _availEvent = _consumed;
        return _notTaken.Dequeue();
    }

    public void Push(ModelChain chain, uint length)
    {
        _used.Enqueue((chain, length));
        _pushed++;
    }

    public bool Notify()
    {
        long old = _lastNotify;
        _lastNotify = _pushed;
        return _pushed > old && _interruptsEnabled && (!EventIndex || (old <= _usedEvent && _usedEvent < _pushed));
    }

    public (ModelChain Chain, uint Length)? Reclaim()
    {
        if (_reclaimed == _pushed)
            return null;
        var entry = _used.Dequeue();
        _reclaimed++;
        Free += entry.Chain.Segments.Length;
        if (_interruptsEnabled)
            _usedEvent = _reclaimed;
        return entry;
    }

    public void DisableInterrupts() => _interruptsEnabled = false;

    public bool EnableInterrupts()
    {
        _interruptsEnabled = true;
        _usedEvent = _reclaimed;
        return _pushed == _reclaimed;
    }

    public void DisableNotifications() => _notificationsEnabled = false;

    public bool EnableNotifications()
    {
        _notificationsEnabled = true;
        _availEvent = _consumed;
        return _published == _consumed;
    }
}
