using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// A queue-style endpoint's own cost per message, without the rings: the dispatcher's copy into the receive queue
/// and a reader's copy out (what <c>Receive</c>, <c>TryReceive</c>, a stream and a pipe pay over a receive callback),
/// and a reader's look at an empty queue (what a caller-polled <c>TryReceive</c> loop pays per miss).
/// </summary>
[MemoryDiagnoser]
public class EndpointQueueBenchmarks
{
    private readonly RpmsgEndpointQueue _queue = new(capacity: 64, largestMessage: 496);
    private readonly byte[] _payload = new byte[64];
    private readonly byte[] _destination = new byte[496];
    private readonly byte[] _small = new byte[64];

    [Benchmark(Baseline = true, Description = "enqueue + dequeue, 64 B (destination fits any message)")]
    public int EnqueueDequeue()
    {
        _queue.TryEnqueue(0x400, _payload);
        _queue.TryDequeue(_destination, out var result);
        return result.Length;
    }

    [Benchmark(Description = "enqueue + dequeue, 64 B (destination checked against the message)")]
    public int EnqueueDequeueChecked()
    {
        _queue.TryEnqueue(0x400, _payload);
        _queue.TryDequeue(_small, out var result);
        return result.Length;
    }

    [Benchmark(Description = "8 enqueued, then 8 dequeued, 64 B (per message)", OperationsPerInvoke = 8)]
    public int Batch()
    {
        for (int i = 0; i < 8; i++)
            _queue.TryEnqueue(0x400, _payload);
        int total = 0;
        for (int i = 0; i < 8; i++)
        {
            _queue.TryDequeue(_destination, out var result);
            total += result.Length;
        }
        return total;
    }

    [Benchmark(Description = "dequeue from an empty queue")]
    public bool DequeueEmpty() => _queue.TryDequeue(_destination, out _);
}
