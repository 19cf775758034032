using System.Buffers.Binary;
using VirtioRpmsg.Chaos;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Chaos;

/// <summary>
/// Bounded, seeded random inputs through the same targets the fuzz harnesses run (tests/fuzz). A target
/// throws only for a finding (an undocumented exception or a broken invariant). Resource table and ELF
/// mutations of valid images are in Lifecycle/RandomInputTests; here they also get raw random bytes.
/// </summary>
public class ParserRandomInputTests
{
    private static byte[] RandomBytes(Random rng, int maxLength)
    {
        var bytes = new byte[rng.Next(0, maxLength + 1)];
        rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A valid input with a few bytes replaced, so the parser gets past its first checks.</summary>
    private static byte[] Mutate(Random rng, byte[] valid)
    {
        var bytes = (byte[])valid.Clone();
        int changes = rng.Next(1, 5);
        for (int i = 0; i < changes && bytes.Length > 0; i++)
            bytes[rng.Next(bytes.Length)] = rng.Next(3) == 0 ? (byte)0 : (byte)rng.Next(256);
        return rng.Next(8) == 0 ? bytes[..rng.Next(bytes.Length + 1)] : bytes;
    }

    private static (int Accepted, int Rejected) RunMany(FuzzTarget target, int iterations, int seed, Func<Random, byte[]> input)
    {
        var rng = new Random(seed);
        int accepted = 0, rejected = 0;
        for (int i = 0; i < iterations; i++)
        {
            if (FuzzTargets.Run(target, input(rng)))
                accepted++;
            else
                rejected++;
        }
        return (accepted, rejected);
    }

    [Fact]
    public void NameServiceTryParse_RandomAndMutatedInputs_NeverThrows()
    {
        var valid = new byte[NameServiceMessage.Size];
        new NameServiceMessage("rpmsg-client-sample", 0x400, NameServiceFlags.Create).Write(valid);

        var (accepted, rejected) = RunMany(FuzzTarget.NameService, 20_000, 1, rng => rng.Next(2) == 0 ? RandomBytes(rng, 64) : Mutate(rng, valid));

        Assert.True(accepted > 1000, $"only {accepted} accepted");
        Assert.True(rejected > 1000, $"only {rejected} rejected");
    }

    [Fact]
    public void HostReceive_RandomHeadersAndUsedLengths_CountedOrDelivered()
    {
        var valid = new byte[4 + RpmsgHeader.Size + 8];
        BinaryPrimitives.WriteUInt32LittleEndian(valid, RpmsgHeader.Size + 8);
        new RpmsgHeader(0x400, 0x600, 0, 8, 0).Write(valid.AsSpan(4));

        var (accepted, rejected) = RunMany(FuzzTarget.RpmsgHeader, 1_500, 2, rng => rng.Next(4) == 0 ? RandomBytes(rng, 600) : Mutate(rng, valid));

        Assert.True(accepted > 100, $"only {accepted} delivered");
        Assert.True(rejected > 100, $"only {rejected} counted as bad or dropped");
    }

    [Fact]
    public void DescriptorChainWalk_RandomRings_OnlyBrokenQueueOrValidChains()
    {
        var (accepted, rejected) = RunMany(FuzzTarget.DescriptorChain, 3_000, 3, rng =>
        {
            // Mostly well-formed descriptors (addresses in the buffer region) with random links and flags,
            // so walks get deep; some fully random rings.
            var bytes = RandomBytes(rng, 1200);
            if (rng.Next(4) != 0)
            {
                for (int d = 1; d + 16 <= bytes.Length && d < 1 + 16 * 64; d += 16)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(d), 0x10000UL + (ulong)rng.Next(0, 0x2000));
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(d + 8), (uint)rng.Next(0, 0x400));
                    bytes[d + 12] = (byte)(rng.Next(4) == 0 ? 0 : rng.Next(4)); // NEXT and WRITE bits, rarely others
                    bytes[d + 13] = 0;
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(d + 14), (ushort)rng.Next(0, 70));
                }
            }
            return bytes;
        });

        Assert.True(accepted > 100, $"only {accepted} rings yielded a chain");
        Assert.True(rejected > 100, $"only {rejected} rings broke the queue");
    }

    [Theory]
    [InlineData(FuzzTarget.ResourceTable)]
    [InlineData(FuzzTarget.Elf)]
    public void Parse_RawRandomBytes_OnlyDocumentedRejections(FuzzTarget target)
    {
        var (_, rejected) = RunMany(target, 20_000, 4, rng => RandomBytes(rng, 256));

        Assert.True(rejected > 1000, $"only {rejected} rejected");
    }

    [Theory]
    [InlineData(FuzzTarget.ResourceTable)]
    [InlineData(FuzzTarget.Elf)]
    [InlineData(FuzzTarget.NameService)]
    [InlineData(FuzzTarget.RpmsgHeader)]
    [InlineData(FuzzTarget.DescriptorChain)]
    public void Corpus_EveryKeptInput_NoFinding(FuzzTarget target)
    {
        // The corpus AFL built (tests/fuzz/corpus) doubles as a regression suite for past findings.
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tests", "fuzz", "corpus")))
            dir = dir.Parent;
        Assert.NotNull(dir);
        var files = Directory.GetFiles(Path.Combine(dir.FullName, "tests", "fuzz", "corpus", target.ToString()));
        Assert.NotEmpty(files);

        int accepted = files.Count(f => FuzzTargets.Run(target, File.ReadAllBytes(f)));

        Assert.True(accepted > 0, $"no input of the {target} corpus is accepted: the corpus explores only rejections");
    }
}
