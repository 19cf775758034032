using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Review (rereview-waits): Start and Stop both close the mailbox's gate, and a second closer found it closed already
/// and went on. So a Stop called while a Start was setting the controller up ran beside it on the registers (each is
/// documented as alone on them), and the pair could end in a state no order of the two leaves (i.MX MU and STM32 IPCC
/// with per-vring words: the gate open after Start, the kicks closed by Stop, every later ring refused for good).
/// </summary>
public sealed class MailboxStartStopRaceReviewTests
{
    public static TheoryData<string> Kinds => new() { "imx-data-vrings", "imx-gp", "ti-vrings", "stm32-vrings", "xilinx" };

    private static (RegisterModel Model, IMailbox Mailbox) Make(string kind) => kind switch
    {
        "imx-data-vrings" => Imx(ImxMuSignal.Data),
        "imx-gp" => Imx(ImxMuSignal.GeneralPurpose),
        "ti-vrings" => Ti(),
        "stm32-vrings" => Stm32(),
        "xilinx" => Xilinx(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no such mailbox kind in this test"),
    };

    private static (RegisterModel, IMailbox) Imx(ImxMuSignal signal)
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        return (model, new ImxMessagingUnit(model, signal: signal));
    }

    private static (RegisterModel, IMailbox) Ti()
    {
        var model = new TiMailboxModel();
        return (model, new TiMailbox(model, txFifo: 1, rxFifo: 0, user: 0));
    }

    private static (RegisterModel, IMailbox) Stm32()
    {
        var model = new Stm32IpccModel();
        return (model, Stm32Ipcc.ForVrings(model));
    }

    private static (RegisterModel, IMailbox) Xilinx()
    {
        var model = new XilinxIpiModel(0x0100_0000, 0x0000_0100);
        return (model, new XilinxIpi(model, 0x0000_0100));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StopCalledWhileStartSetsTheControllerUp_WaitsForIt_AndLeavesTheMailboxStopped(string kind)
    {
        var (model, mailbox) = Make(kind);
        mailbox.Start();
        mailbox.Stop();
        model.TakeLog();
        using var startInside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int startThread = -1;
        bool parked = false;
        string? besideStart = null;
        model.OnAccess = entry =>
        {
            if (Environment.CurrentManagedThreadId != Volatile.Read(ref startThread))
            {
                if (!release.IsSet)
                    besideStart ??= entry; // Stop on the registers while Start is still setting them up
                return;
            }
            if (parked)
                return;
            // Start is preempted at its first register access.
            parked = true;
            startInside.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        };
        var start = new Thread(() =>
        {
            Volatile.Write(ref startThread, Environment.CurrentManagedThreadId);
            mailbox.Start();
        }) { IsBackground = true };
        start.Start();
        Assert.True(startInside.Wait(TimeSpan.FromSeconds(10)));
        var stop = new Thread(mailbox.Stop) { IsBackground = true };
        stop.Start();
        // Bounded: a Stop that does not wait for Start is done at once; one that waits is still waiting here.
        bool stopDoneBesideStart = stop.Join(TimeSpan.FromMilliseconds(500));
        release.Set();
        Assert.True(start.Join(TimeSpan.FromSeconds(10)));
        Assert.True(stop.Join(TimeSpan.FromSeconds(10)));
        model.OnAccess = null;
        model.TakeLog();
        // A Stop that was over before Start's set-up was: Start came last, so the mailbox is started and rings.
        if (stopDoneBesideStart)
            Assert.True(mailbox.TryRing(1), $"{kind}: Stop returned before Start, yet the started mailbox refuses every ring");
        Assert.True(besideStart is null, $"{kind}: Stop touched the registers while Start was setting them up ({besideStart})");

        // Stop came second: the mailbox is stopped, and nothing touches the registers until the next Start.
        Assert.False(mailbox.TryRing(1));
        Assert.Equal(MailboxReceipt.NotChecked, mailbox.Acknowledge());
        mailbox.FlushKicks();
        Assert.Empty(model.TakeLog());
        // And the next Start rings again (the kicks were not left closed under an open gate).
        mailbox.Start();
        Assert.True(mailbox.TryRing(1), $"{kind}: a ring after the next Start was refused");
    }
}
