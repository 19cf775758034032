using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// Runs operations against a real driver and device sharing one ring, and against
/// <see cref="VirtqueueModel"/>, asserting after every operation that both agree.
/// </summary>
internal sealed class VirtqueueModelHarness : IDisposable
{
    private readonly VringTestBed _bed;
    private readonly bool _eventIndex;
    private readonly List<(int Head, ModelChain Chain)> _held = [];
    private VirtqueueDriver _driver;
    private VirtqueueDevice _device;
    private VirtqueueModel _model;
    private int _nextToken;

    public VirtqueueModelHarness(int num, bool eventIndex)
    {
        _bed = new VringTestBed(num, slots: 16);
        _eventIndex = eventIndex;
        _driver = _bed.CreateDriver(eventIndex);
        _device = _bed.CreateDevice(eventIndex);
        _model = new VirtqueueModel(num, eventIndex);
    }

    /// <summary>Entries the driver has added so far (the number of times avail.idx moved).</summary>
    public long Added => _model.Added;

    public void Apply(VirtqueueOp op)
    {
        int arg = op.Arg;
        switch (op.Kind)
        {
            case VirtqueueOpKind.Add:
                Add(arg);
                break;
            case VirtqueueOpKind.Kick:
                Assert.Equal(_model.Kick(), _driver.KickPrepare());
                break;
            case VirtqueueOpKind.Take:
                Take();
                break;
            case VirtqueueOpKind.Push:
                Push(arg);
                break;
            case VirtqueueOpKind.Notify:
                Assert.Equal(_model.Notify(), _device.NotifyPrepare());
                break;
            case VirtqueueOpKind.Reclaim:
                Reclaim();
                break;
            case VirtqueueOpKind.DisableInterrupts:
                _model.DisableInterrupts();
                _driver.DisableInterrupts();
                break;
            case VirtqueueOpKind.EnableInterrupts:
                Assert.Equal(_model.EnableInterrupts(), _driver.EnableInterrupts());
                break;
            case VirtqueueOpKind.DisableNotifications:
                _model.DisableNotifications();
                _device.DisableNotifications();
                break;
            case VirtqueueOpKind.EnableNotifications:
                Assert.Equal(_model.EnableNotifications(), _device.EnableNotifications());
                break;
            case VirtqueueOpKind.Reset:
                _driver.Reset();
                _device.Reset();
                _held.Clear();
                _model = new VirtqueueModel(_model.Num, _eventIndex);
                break;
        }
        Assert.Equal(_model.Free, _driver.FreeCount);
        Assert.Equal(_model.HasUsed, _driver.HasUsed);
        Assert.Equal(_model.HasAvailable, _device.HasAvailable);
    }

    private void Add(int arg)
    {
        int n = Math.Min((arg & 3) == 3 ? 1 + ((arg >> 2) % 3) : 1, _model.Num);
        int token = _nextToken++;
        var segments = new BufferSegment[n];
        for (int i = 0; i < n; i++)
        {
            ulong address = VringTestBed.SlotAddress((token * 3 + i) % _bed.Slots);
            uint length = (uint)(1 + ((arg >> 4) + i * 37) % VringTestBed.SlotSize);
            // Device-readable segments first, then device-writable ones.
            bool writable = i > 0 || ((arg >> 8) & 1) == 1;
            segments[i] = new BufferSegment(address, length, writable);
        }
        bool expected = _model.Add(new ModelChain(token, segments));
        bool actual = n == 1
            ? _driver.TryAdd(segments[0].DeviceAddress, segments[0].Length, segments[0].DeviceWritable, token)
            : _driver.TryAddChain(segments, token);
        Assert.Equal(expected, actual);
    }

    private void Take()
    {
        var expected = _model.Take();
        bool took = _device.TryTakeAvailable(out var chain);
        Assert.Equal(expected is not null, took);
        if (expected is null)
            return;
        Assert.Equal(expected.Segments.Length, chain.SegmentCount);
        for (int i = 0; i < chain.SegmentCount; i++)
        {
            var want = expected.Segments[i];
            var got = chain[i];
            Assert.Same(_bed.BufferRegion, got.Region.Region);
            Assert.Equal(want.DeviceAddress, got.DeviceAddress);
            Assert.Equal((long)(want.DeviceAddress - VringTestBed.BufferAddress), got.Offset);
            Assert.Equal(want.Length, got.Length);
            Assert.Equal(want.DeviceWritable, got.DeviceWritable);
        }
        _held.Add((chain.Head, expected));
    }

    private void Push(int arg)
    {
        if (_held.Count == 0)
            return;
        int k = arg % _held.Count; // out of order on purpose
        var (head, chain) = _held[k];
        _held.RemoveAt(k);
        uint length = (uint)((ulong)(arg >> 3) % (chain.UsedLimit + 1));
        _device.PushUsed(head, length);
        _model.Push(chain, length);
    }

    private void Reclaim()
    {
        var expected = _model.Reclaim();
        bool got = _driver.TryGetUsed(out int token, out uint length);
        Assert.Equal(expected is not null, got);
        if (expected is { } e)
        {
            Assert.Equal(e.Chain.Token, token);
            Assert.Equal(e.Length, length);
        }
    }

    public void Dispose() => _bed.Dispose();
}
