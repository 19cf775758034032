using System.Diagnostics;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// <see cref="UioDoorbell.LastReceipt"/> is written by the thread that consumed an interrupt and read by any other
/// (a diagnostic): a reader must see one whole receipt, never the fields of two.
/// </summary>
public sealed class UioLastReceiptTests
{
    private static readonly MailboxReceipt Word = new(7, 0xA5A5_A5A5);
    private static readonly MailboxReceipt Unmapped = MailboxReceipt.NotChecked;

    /// <summary>Acknowledges with <see cref="Word"/> and <see cref="Unmapped"/> in turn.</summary>
    private sealed class AlternatingMailbox : IMailbox
    {
        private int _next;

        public string Name => "alternating";

        public void Start()
        {
        }

        public bool TryRing() => true;

        public MailboxReceipt Acknowledge() => (_next++ & 1) == 0 ? Word : Unmapped;

        public void Stop()
        {
        }
    }

    [Fact]
    public void LastReceipt_ReadWhileInterruptsAreConsumed_IsAlwaysAWholeReceipt()
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open(new AlternatingMailbox());
        device.TakeWrittenWords();
        using var stop = new CancellationTokenSource();
        long torn = 0, reads = 0;
        MailboxReceipt seen = default;
        var reader = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var receipt = doorbell.LastReceipt;
                reads++;
                if (receipt != Word && receipt != Unmapped)
                {
                    seen = receipt;
                    Interlocked.Increment(ref torn);
                    return;
                }
            }
        }, TaskCreationOptions.LongRunning);
        var budget = Stopwatch.StartNew();
        uint count = 0;
        // Bounded: a fixed time (the receipts' copies interleave only now and then), or the first torn read.
        while (budget.Elapsed < TimeSpan.FromSeconds(1.5) && Interlocked.Read(ref torn) == 0)
        {
            for (int i = 0; i < 64; i++)
            {
                device.Interrupt(++count);
                Assert.True(doorbell.Drain());
            }
            device.TakeWrittenWords();
        }
        stop.Cancel();
        Assert.True(reader.Wait(Bounded.Limit));
        Assert.True(torn == 0, $"a reader saw {seen} after {reads} reads and {count} interrupts: fields of two receipts");
    }
}
