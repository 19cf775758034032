using CsCheck;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>Random interleavings of driver and device operations on one ring, checked against a reference model.</summary>
public class VirtqueueModelTests
{
    private static readonly (int Weight, VirtqueueOpKind Kind)[] Weights =
    [
        (20, VirtqueueOpKind.Add),
        (10, VirtqueueOpKind.Kick),
        (18, VirtqueueOpKind.Take),
        (18, VirtqueueOpKind.Push),
        (8, VirtqueueOpKind.Notify),
        (18, VirtqueueOpKind.Reclaim),
        (2, VirtqueueOpKind.DisableInterrupts),
        (2, VirtqueueOpKind.EnableInterrupts),
        (2, VirtqueueOpKind.DisableNotifications),
        (2, VirtqueueOpKind.EnableNotifications),
    ];

    private static readonly Gen<VirtqueueOp> GenOp = Gen.Frequency(
        Weights.Select(w => (w.Weight, (IGen<VirtqueueOp>)Gen.Int[0, 1 << 20].Select(a => new VirtqueueOp(w.Kind, a))))
            .Append((1, (IGen<VirtqueueOp>)Gen.Const(new VirtqueueOp(VirtqueueOpKind.Reset, 0))))
            .ToArray());

    [Fact]
    public void RandomInterleavings_ShortRuns_MatchModel()
    {
        Gen.Select(Gen.Int[0, 4], Gen.Bool, GenOp.Array[1, 400])
            .Sample((log2Num, eventIndex, ops) =>
            {
                using var harness = new VirtqueueModelHarness(1 << log2Num, eventIndex);
                foreach (var op in ops)
                    harness.Apply(op);
            }, iter: 200);
    }

    [Fact]
    public void RandomInterleavings_LongRunsWrappingIndices_MatchModel()
    {
        // 3 million operations per run move more than three times 65536 entries through the ring,
        // so both 16-bit indices wrap several times. Operations come from a seeded generator, the seed from CsCheck.
        const int Operations = 3_000_000;
        int totalWeight = Weights.Sum(w => w.Weight);
        Gen.Select(Gen.ULong, Gen.Bool, Gen.Int[3, 5])
            .Sample((seed, eventIndex, log2Num) =>
            {
                using var harness = new VirtqueueModelHarness(1 << log2Num, eventIndex);
                ulong state = seed | 1;
                for (int i = 0; i < Operations; i++)
                {
                    // xorshift64: cheap and deterministic for a given seed.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    int pick = (int)(state % (ulong)totalWeight);
                    var kind = VirtqueueOpKind.Add;
                    foreach (var (weight, k) in Weights)
                    {
                        if (pick < weight)
                        {
                            kind = k;
                            break;
                        }
                        pick -= weight;
                    }
                    harness.Apply(new VirtqueueOp(kind, (int)(state >> 40)));
                }
                Assert.True(harness.Added > 3 * 65536, $"only {harness.Added} entries added; the indices did not wrap three times");
            }, iter: 2, threads: 1);
    }
}
