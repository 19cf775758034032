using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Benchmarks;

/// <summary>Encode / decode of the 16-byte rpmsg header and the 40-byte name-service message.</summary>
[MemoryDiagnoser]
public class RpmsgWireBenchmarks
{
    private readonly byte[] _header = new byte[RpmsgHeader.Size];
    private readonly byte[] _ns = new byte[NameServiceMessage.Size];
    private readonly NameServiceMessage _announce = new("rpmsg-openamp-demo-channel", 0x400, NameServiceFlags.Create);

    [GlobalSetup]
    public void Setup() => _announce.Write(_ns);

    [Benchmark(Description = "header write + read")]
    public ushort HeaderRoundTrip()
    {
        new RpmsgHeader(0x400, 0x401, 0, 64, 0).Write(_header);
        return RpmsgHeader.Read(_header).Length;
    }

    [Benchmark(Description = "name-service write")]
    public byte NameServiceWrite()
    {
        _announce.Write(_ns);
        return _ns[0];
    }

    [Benchmark(Description = "name-service parse (allocates the name string)")]
    public uint NameServiceParse() =>
        NameServiceMessage.TryParse(_ns, out var message, out _) ? message.Address : 0;
}
