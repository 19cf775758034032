using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// The rpmsg message path in one process: both roles over one region with loopback doorbells and
/// <see cref="RpmsgWaitStrategy.CallerPoll"/> on both sides, so this thread drives everything and
/// the figure is pure CPU cost (no wake-ups). Target: 0 B allocated per message.
/// </summary>
[MemoryDiagnoser]
public class RpmsgMessageBenchmarks
{
    private const uint EchoAddress = 0x400;
    private const uint SinkAddress = 0x402;
    private const uint ClientAddress = 0x401;

    private RpmsgPair _pair = null!;
    private RpmsgEndpoint _client = null!;
    private byte[] _payload = null!;
    private long _received;

    [Params(1, 64, 496)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pair = RpmsgPair.Create(RpmsgWaitStrategy.CallerPoll, RpmsgWaitStrategy.CallerPoll, eventFd: false, name: "bdn");
        _pair.Remote.CreateEndpoint(EchoAddress, (ept, src, payload) => ept.TrySendTo(src, payload));
        _pair.Remote.CreateEndpoint(SinkAddress, (_, _, payload) => _received += payload.Length);
        _client = _pair.Host.CreateEndpoint(ClientAddress, (_, _, payload) => _received += payload.Length);
        _pair.Start();
        _payload = new byte[PayloadSize];
    }

    [GlobalCleanup]
    public void Cleanup() => _pair.Dispose();

    [Benchmark(Description = "try-send host->remote + remote poll (one way)")]
    public long OneWay()
    {
        if (!_client.TrySendTo(SinkAddress, _payload))
            throw new InvalidOperationException("no tx buffer in steady state");
        _pair.Remote.Poll();
        return _received;
    }

    [Benchmark(Description = "try-send + remote echo + host poll (round trip)")]
    public long RoundTrip()
    {
        if (!_client.TrySendTo(EchoAddress, _payload))
            throw new InvalidOperationException("no tx buffer in steady state");
        _pair.Remote.Poll();
        _pair.Host.Poll();
        return _received;
    }
}
