using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// Per-message dispatch cost with 1 endpoint on the vdev against 1,024 (issue 16 item 4): the host
/// try-sends one 16-byte message and this thread polls the remote, which looks up the destination and
/// runs its callback. The 1,024 case sends round-robin to every endpoint, so each lookup and callback
/// touches a different endpoint object. Both cases run in the same BenchmarkDotNet run; the Ratio column
/// is the 1,024-endpoint cost over the 1-endpoint cost (1.00 = dispatch does not depend on the count).
/// </summary>
[MemoryDiagnoser]
public class EndpointDispatchBenchmarks
{
    private const int ManyEndpoints = 1024;
    private const uint FirstAddress = 0x1000;
    private const uint ClientAddress = 0x401;

    private RpmsgPair _pair = null!;
    private RpmsgEndpoint _client = null!;
    private readonly byte[] _payload = new byte[16];
    private long _received;
    private uint _next;
    private uint _count;

    [GlobalSetup(Target = nameof(OneEndpoint))]
    public void SetupOne() => Setup(1);

    [GlobalSetup(Target = nameof(ThousandEndpoints))]
    public void SetupMany() => Setup(ManyEndpoints);

    private void Setup(int endpoints)
    {
        // The name-service endpoint (address 53) takes a table slot too.
        _pair = RpmsgPair.Create(RpmsgWaitStrategy.CallerPoll, RpmsgWaitStrategy.CallerPoll, eventFd: false, name: "bdn-dispatch",
            remoteMaxEndpoints: endpoints + 1);
        for (int i = 0; i < endpoints; i++)
            _pair.Remote.CreateEndpoint(FirstAddress + (uint)i, (_, _, payload) => _received += payload.Length);
        _client = _pair.Host.CreateEndpoint(ClientAddress, (_, _, _) => { });
        _pair.Start();
        _count = (uint)endpoints;
        _next = 0;
    }

    [GlobalCleanup]
    public void Cleanup() => _pair.Dispose();

    [Benchmark(Baseline = true, Description = "1 endpoint: try-send + remote dispatch")]
    public long OneEndpoint() => SendOne();

    [Benchmark(Description = "1,024 endpoints, round-robin: try-send + remote dispatch")]
    public long ThousandEndpoints() => SendOne();

    private long SendOne()
    {
        uint destination = FirstAddress + _next;
        _next = _next + 1 == _count ? 0 : _next + 1;
        if (!_client.TrySendTo(destination, _payload))
            throw new InvalidOperationException("no tx buffer in steady state");
        _pair.Remote.Poll();
        return _received;
    }
}
