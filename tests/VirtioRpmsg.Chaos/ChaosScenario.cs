using System.Buffers.Binary;
using System.Diagnostics;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Chaos;

/// <summary>
/// One seeded chaos run: healthy traffic both ways, one injected fault, more traffic where the fault
/// leaves the device usable, then the invariants: the victim reported the fault (broken with a reason
/// naming the field and value, or a counted drop/error that was logged), healthy messages arrived exactly
/// once and in order, counters match, no callback ran on a destroyed endpoint, no sender outlived its
/// timeout. Every stray shared-memory access would hit a guard page and kill the process.
/// </summary>
public static partial class ChaosScenario
{
    /// <summary>Upper bound for anything that must finish "promptly" (generous: the machine may be loaded).</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>Fault classes where the host runs its own dispatcher thread (doorbells matter).</summary>
    public static bool IsTiming(ChaosFault fault) =>
        fault is ChaosFault.StallForever or ChaosFault.KickFlood or ChaosFault.NoKicks or ChaosFault.DieMidMessage;

    /// <summary>Runs <paramref name="fault"/> with <paramref name="seed"/>; never throws for a stack failure (it is a violation).</summary>
    public static ChaosOutcome Run(ChaosFault fault, int seed)
    {
        var outcome = new ChaosOutcome(fault, seed);
        var rng = new Random(HashCode.Combine(seed, (int)fault));
        var timeout = TimeSpan.FromMilliseconds(IsTiming(fault) ? rng.Next(5, 40) : 30_000);
        ChaosBed? bed = null;
        try
        {
            bed = new ChaosBed(IsTiming(fault), eventIndex: rng.Next(2) == 0, timeout);
            new Attempt(bed, rng, outcome).Execute();
        }
        catch (Exception e)
        {
            outcome.Violation($"unexpected {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }
        finally
        {
            if (bed is not null)
                DisposeBounded(bed, outcome);
        }
        return outcome;
    }

    private static void DisposeBounded(ChaosBed bed, ChaosOutcome outcome)
    {
        var dispose = Task.Run(bed.Dispose);
        try
        {
            if (!dispose.Wait(Bound))
                outcome.Violation($"disposing the devices took longer than {Bound.TotalSeconds} s");
        }
        catch (AggregateException e)
        {
            outcome.Violation($"dispose threw {e.InnerException?.GetType().Name}: {e.InnerException?.Message}");
        }
    }

    private sealed partial class Attempt(ChaosBed bed, Random rng, ChaosOutcome outcome)
    {
        private int _toHost;
        private int _toRemote;
        private long _expectedErrors;
        private long _expectedDropped;
        private bool _hostHealthy = true;
        private bool _remoteHealthy = true;

        public void Execute()
        {
            Traffic(rng.Next(1, 12), disposeDoomed: true);
            Settle();
            CheckDelivered();
            Inject();
            if (_hostHealthy && _remoteHealthy)
            {
                Traffic(rng.Next(1, 12), disposeDoomed: false);
                Settle();
                CheckDelivered();
                CheckCounters();
            }
            outcome.Check(bed.LateCallbacks == 0, $"{bed.LateCallbacks} callback(s) ran on a destroyed endpoint");
            outcome.Check(bed.Host.Counters.CallbackErrors == 0, $"host callback errors: {bed.Host.Counters.CallbackErrors}");
        }

        private byte[] Payload(int seq)
        {
            var p = new byte[4 + rng.Next(0, ChaosBed.BufferSize - RpmsgHeader.Size - 4 + 1)];
            BinaryPrimitives.WriteInt32LittleEndian(p, seq);
            return p;
        }

        private void Traffic(int count, bool disposeDoomed)
        {
            int doomAt = disposeDoomed ? rng.Next(0, count) : -1;
            for (int i = 0; i < count; i++)
            {
                if (i == doomAt)
                {
                    bed.DisposeDoomed();
                    // A message to the endpoint just destroyed: dropped and counted, never delivered.
                    bed.RemoteSend(ChaosBed.HostDoomedAddress, Payload(-2));
                    _expectedDropped++;
                }
                if (rng.Next(2) == 0)
                    bed.RemoteSend(ChaosBed.HostDataAddress, Payload(_toHost++));
                else
                    bed.HostSend(Payload(_toRemote++));
                if (rng.Next(4) == 0)
                    bed.Pump();
            }
        }

        private void Settle()
        {
            if (bed.Threaded)
                bed.WaitUntil(() => bed.Host.Counters.RxMessages == bed.Remote.Counters.TxMessages && bed.Remote.Counters.RxMessages == bed.Host.Counters.TxMessages
                    && bed.HostReceived().Length >= _toHost && bed.RemoteReceived().Length >= _toRemote, "both sides to drain");
            else
                bed.Pump();
        }

        private void CheckDelivered()
        {
            CheckSequence("remote->host", bed.HostReceived(), _toHost);
            CheckSequence("host->remote", bed.RemoteReceived(), _toRemote);
        }

        private void CheckSequence(string what, int[] got, int sent)
        {
            if (got.Length != sent || got.Where((v, i) => v != i).Any())
                outcome.Violation($"{what}: sent 0..{sent - 1}, received [{string.Join(",", got)}]");
        }

        private void CheckCounters()
        {
            var h = bed.Host.Counters;
            var r = bed.Remote.Counters;
            outcome.Check(h.RxMessages == r.TxMessages, $"host rx {h.RxMessages} != remote tx {r.TxMessages}");
            outcome.Check(r.RxMessages == h.TxMessages, $"remote rx {r.RxMessages} != host tx {h.TxMessages}");
            outcome.Check(h.Errors == _expectedErrors, $"host errors {h.Errors}, expected {_expectedErrors}");
            outcome.Check(h.Dropped == _expectedDropped, $"host dropped {h.Dropped}, expected {_expectedDropped}");
            outcome.Check(bed.Host.State == RpmsgDeviceState.Running, $"host is {bed.Host.State} ({bed.Host.StateReason})");
            outcome.Check(r.Errors == 0 && r.Dropped == 0, $"remote errors {r.Errors} dropped {r.Dropped}");
        }

        /// <summary>Lets the host look at the corrupted ring (rx: poll; tx: send until it reclaims), then checks it broke for the right reason.</summary>
        private void ExpectHostBroken(int ring, string field, string expect)
        {
            _hostHealthy = false;
            try
            {
                bed.PollHost();
            }
            catch (RpmsgDeviceUnavailableException)
            {
            }
            for (int i = 0; i <= ChaosBed.TxBuffers + 1 && bed.Host.State == RpmsgDeviceState.Running; i++)
            {
                try
                {
                    bed.HostData.TrySendTo(ChaosBed.RemoteDataAddress, Payload(-4));
                }
                catch (VirtqueueBrokenException e)
                {
                    outcome.Check(e.Message.Contains(expect, StringComparison.Ordinal), $"tx exception '{e.Message}' does not say '{expect}'");
                }
            }
            CheckBroken(bed.Host, $"vq{ring}", expect);
            outcome.Check(bed.HostLog.Contains(expect), $"no host log entry says '{expect}' ({field})");
            CheckFailsFast();
        }

        private void CheckBroken(RpmsgDevice device, string where, string expect)
        {
            outcome.Reported = $"{device.Name} {device.State}: {device.StateReason}";
            if (device.State != RpmsgDeviceState.Broken)
            {
                outcome.Violation($"{device.Name} is {device.State}, expected Broken by {where}: {expect}");
                return;
            }
            var reason = device.StateReason ?? "";
            outcome.Check(reason.Contains(where, StringComparison.Ordinal) && reason.Contains(expect, StringComparison.Ordinal),
                $"{device.Name} broken reason '{reason}' does not name {where} and '{expect}'");
        }

        /// <summary>After the host broke, every send fails at once with the device-unavailable error.</summary>
        private void CheckFailsFast()
        {
            if (bed.Host.State != RpmsgDeviceState.Broken)
                return;
            var clock = Stopwatch.StartNew();
            try
            {
                bed.HostData.SendTo(ChaosBed.RemoteDataAddress, Payload(-5), TimeSpan.FromSeconds(60));
                outcome.Violation("a send on a broken host succeeded");
            }
            catch (RpmsgDeviceUnavailableException)
            {
            }
            outcome.Check(clock.Elapsed < Bound, $"a send on a broken host took {clock.Elapsed.TotalSeconds:F1} s to fail");
        }

        private void ExpectCounted(bool error, string expect)
        {
            if (error)
                _expectedErrors++;
            else
                _expectedDropped++;
            Settle();
            var c = bed.Host.Counters;
            outcome.Reported = $"{(error ? "error" : "drop")} counted: {expect}";
            outcome.Check(bed.HostLog.Contains(expect) || (error ? c.Errors : c.Dropped) > 10, $"no host log entry says '{expect}'");
            outcome.Check(bed.Host.State == RpmsgDeviceState.Running, $"a message-level fault changed the host to {bed.Host.State} ({bed.Host.StateReason})");
        }
    }
}
