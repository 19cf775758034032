using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// The CPU cost of each receive path applications use, one echo round trip on one thread: both roles caller-polled
/// (<see cref="RpmsgWaitStrategy.CallerPoll"/>), so no wake-up or cross-core transfer is measured, only what each
/// path adds to the callback's round trip (send, remote echo, host poll). The cross-process latencies of the same
/// paths are in docs/benchmarks.md ("User paths"); this says which part of a difference is the path's own code.
/// </summary>
[MemoryDiagnoser]
public class RpmsgUserPathBenchmarks
{
    private const uint EchoAddress = 0x400;

    private RpmsgPair _pair = null!;
    private RpmsgEndpoint _callback = null!;
    private RpmsgEndpoint _queue = null!;
    private RpmsgEndpoint _piped = null!;
    private RpmsgStream _stream = null!;
    private RpmsgDuplexPipe _pipe = null!;
    private readonly byte[] _payload = new byte[64];
    private readonly byte[] _reply = new byte[512];
    private long _received;

    [GlobalSetup]
    public void Setup()
    {
        _pair = RpmsgPair.Create(RpmsgWaitStrategy.CallerPoll, RpmsgWaitStrategy.CallerPoll, eventFd: false, name: "bdn-user");
        _pair.Remote.CreateEndpoint(EchoAddress, (ept, src, payload) => ept.TrySendTo(src, payload));
        _callback = _pair.Host.CreateEndpoint(0x401, (_, _, payload) => _received += payload.Length, EchoAddress);
        _queue = _pair.Host.CreateEndpoint(0x402, EchoAddress);
        _stream = new RpmsgStream(_pair.Host.CreateEndpoint(0x403, EchoAddress));
        _piped = _pair.Host.CreateEndpoint(0x404, EchoAddress);
        _pipe = new RpmsgDuplexPipe(_piped);
        _pair.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipe.DisposeAsync().AsTask().Wait();
        _pair.Dispose();
    }

    private void Echo()
    {
        _pair.Remote.Poll();
        _pair.Host.Poll();
    }

    [Benchmark(Baseline = true, Description = "callback")]
    public long Callback()
    {
        if (!_callback.TrySend(_payload))
            throw new InvalidOperationException("no tx buffer in steady state");
        Echo();
        return _received;
    }

    [Benchmark(Description = "Receive")]
    public int Receive()
    {
        if (!_queue.TrySend(_payload))
            throw new InvalidOperationException("no tx buffer in steady state");
        Echo();
        return _queue.Receive(_reply, TimeSpan.Zero).Length;
    }

    [Benchmark(Description = "TrySend, TryReceive between Polls")]
    public int PollLoop()
    {
        // A caller-polled application's loop (the cross-process "Poll" path): a look before the reply is there, then
        // the Poll that queues it and the look that takes it.
        if (!_queue.TrySend(_payload))
            throw new InvalidOperationException("no tx buffer in steady state");
        if (_queue.TryReceive(_reply, TimeSpan.Zero, out _))
            throw new InvalidOperationException("a reply before the remote ran");
        Echo();
        if (!_queue.TryReceive(_reply, TimeSpan.Zero, out var result))
            throw new InvalidOperationException("the echo was not queued");
        return result.Length;
    }

    [Benchmark(Description = "Poll with nothing arrived (per look)")]
    public int PollEmpty() => _pair.Host.Poll();

    [Benchmark(Description = "SendAsync + ReceiveAsync")]
    public int ReceiveAsync()
    {
        var send = _queue.SendAsync(_payload);
        send.GetAwaiter().GetResult();
        Echo();
        var receive = _queue.ReceiveAsync(_reply);
        if (!receive.IsCompleted)
            throw new InvalidOperationException("the echo was not queued");
        return receive.GetAwaiter().GetResult().Length;
    }

    [Benchmark(Description = "RpmsgStream Write + Read")]
    public int Stream()
    {
        _stream.Write(_payload);
        Echo();
        return _stream.Read(_reply);
    }

    [Benchmark(Description = "IDuplexPipe WriteAsync + ReceiveAsync (the pipe's write half)")]
    public int PipeWriteOnly()
    {
        _pipe.Output.WriteAsync(_payload).GetAwaiter().GetResult();
        Echo();
        var receive = _piped.ReceiveAsync(_reply);
        return receive.GetAwaiter().GetResult().Length;
    }

    [Benchmark(Description = "SendAsync + IDuplexPipe ReadAsync (the pipe's read half)")]
    public long PipeReadOnly()
    {
        _piped.SendAsync(_payload).GetAwaiter().GetResult();
        Echo();
        var read = _pipe.Input.ReadAsync();
        var buffer = read.GetAwaiter().GetResult().Buffer;
        long length = buffer.Length;
        _pipe.Input.AdvanceTo(buffer.End);
        return length;
    }

    [Benchmark(Description = "IDuplexPipe WriteAsync + ReadAsync")]
    public long Pipe()
    {
        _pipe.Output.WriteAsync(_payload).GetAwaiter().GetResult();
        Echo();
        var read = _pipe.Input.ReadAsync();
        if (!read.IsCompleted)
            throw new InvalidOperationException("the echo was not queued");
        var buffer = read.GetAwaiter().GetResult().Buffer;
        long length = buffer.Length;
        _pipe.Input.AdvanceTo(buffer.End);
        return length;
    }
}
