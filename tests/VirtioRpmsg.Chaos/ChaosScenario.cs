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
public static class ChaosScenario
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

    private sealed class Attempt(ChaosBed bed, Random rng, ChaosOutcome outcome)
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

        // ---- healthy traffic -------------------------------------------------------------------

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

        // ---- injection -------------------------------------------------------------------------

        private void Inject()
        {
            switch (outcome.Fault)
            {
                case ChaosFault.UsedIndexJump:
                case ChaosFault.UsedIndexRewind:
                case ChaosFault.UsedIndexWrap:
                    UsedIndex();
                    break;
                case ChaosFault.UsedIdOutOfRange:
                case ChaosFault.UsedIdUnknown:
                case ChaosFault.UsedIdDuplicate:
                case ChaosFault.UsedLengthTooLarge:
                    UsedElement();
                    break;
                case ChaosFault.HeaderLengthTooLarge:
                case ChaosFault.UnknownDestination:
                case ChaosFault.ReservedSource:
                    Header();
                    break;
                case ChaosFault.NameServiceNoNul:
                case ChaosFault.NameServiceAddressAny:
                case ChaosFault.NameServiceAddressReserved:
                case ChaosFault.NameServiceDestroyUnknown:
                case ChaosFault.NameServiceNotAllowed:
                    NameService();
                    break;
                case ChaosFault.NameServiceCreateFlood:
                    Flood();
                    break;
                case ChaosFault.StatusNeedsReset:
                case ChaosFault.StatusScribble:
                    Status();
                    break;
                case ChaosFault.DescriptorScribble:
                    Scribble();
                    break;
                case ChaosFault.StallForever:
                    Stall();
                    break;
                case ChaosFault.KickFlood:
                    KickFlood();
                    break;
                case ChaosFault.NoKicks:
                    NoKicks();
                    break;
                case ChaosFault.DieMidMessage:
                    DieMidMessage();
                    break;
                default:
                    DeviceRole();
                    break;
            }
        }

        /// <summary>
        /// Ring 1: posts every tx buffer (the remote is not polled again, so none comes back). With the
        /// host's free list empty its next send reclaims at once, without first posting a new chain that
        /// could make a forged id legitimate again (a returned id that is in flight is indistinguishable
        /// from an honest return, for any driver).
        /// </summary>
        private void EnsureInFlight(int ring)
        {
            if (ring != 1)
                return;
            while (bed.HostData.TrySendTo(ChaosBed.RemoteDataAddress, Payload(-3)))
            {
            }
        }

        private void UsedIndex()
        {
            // A rewind is only visible against what the host already reclaimed; the host reclaims rx at
            // once but tx lazily, so a tx rewind to a value it has not reached yet looks like a stall.
            int ring = outcome.Fault == ChaosFault.UsedIndexRewind ? 0 : rng.Next(2);
            EnsureInFlight(ring);
            ushort used = bed.UsedIdx(ring);
            int inFlight = bed.InFlight(ring).Count;
            ushort value = outcome.Fault switch
            {
                ChaosFault.UsedIndexJump => (ushort)(used + inFlight + 1 + rng.Next(0, 4 * ChaosBed.VringNum)),
                ChaosFault.UsedIndexRewind => (ushort)(used - 1 - rng.Next(0, 8)),
                _ => rng.Next(3) switch { 0 => (ushort)(used ^ 0x8000), 1 => (ushort)0xFFFF, _ => (ushort)(used + 0x7FFF) },
            };
            if ((ushort)(value - used) <= inFlight)
                value = (ushort)(used + 0x8000); // would look legitimate: use the wrap trick instead
            bed.WriteUsedIdx(ring, value);
            ExpectHostBroken(ring, "used.idx", $"used.idx is {value}");
        }

        private void UsedElement()
        {
            int ring = rng.Next(2);
            EnsureInFlight(ring);
            ushort used = bed.UsedIdx(ring);
            var inFlight = bed.InFlight(ring);
            uint id;
            uint length = 0;
            string expect;
            switch (outcome.Fault)
            {
                case ChaosFault.UsedIdOutOfRange:
                    id = rng.Next(2) == 0 ? (uint)(ChaosBed.VringNum + rng.Next(0, 0x10000)) : uint.MaxValue - (uint)rng.Next(0, 16);
                    expect = $"id is {id}, num is {ChaosBed.VringNum}";
                    break;
                case ChaosFault.UsedIdUnknown:
                case ChaosFault.UsedIdDuplicate:
                    {
                        // Duplicate: a head the ring already returned; unknown: any descriptor not a head in flight.
                        var candidates = Enumerable.Range(0, ChaosBed.VringNum).Where(i => !inFlight.Contains(i)).ToList();
                        if (outcome.Fault == ChaosFault.UsedIdDuplicate)
                        {
                            var returned = Enumerable.Range(1, ChaosBed.VringNum).Select(k => (int)bed.UsedElement(ring, used - k).Id).Where(candidates.Contains).ToList();
                            if (returned.Count > 0)
                                candidates = returned;
                        }
                        id = (uint)candidates[rng.Next(candidates.Count)];
                        expect = $"id is {id}, which is not the head of a chain in flight";
                        break;
                    }
                default:
                    {
                        id = (uint)inFlight[0];
                        uint limit = ring == 0 ? ChaosBed.BufferSize : bed.Descriptor(ring, (int)id).Length;
                        length = rng.Next(2) == 0 ? limit + 1 + (uint)rng.Next(0, 100_000) : uint.MaxValue;
                        expect = $"len is {length} for chain {id}";
                        break;
                    }
            }
            bed.WriteUsedElement(ring, used, id, length);
            bed.WriteUsedIdx(ring, (ushort)(used + 1));
            ExpectHostBroken(ring, "used element", expect);
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

        // ---- message-level faults: counted, the device keeps working ---------------------------------

        private void Header()
        {
            int length = rng.Next(0, ChaosBed.BufferSize - RpmsgHeader.Size + 1);
            var payload = new byte[length];
            rng.NextBytes(payload);
            bed.RemoteSend(ChaosBed.HostDataAddress, payload);
            long at = bed.LastRemoteMessageOffset();
            switch (outcome.Fault)
            {
                case ChaosFault.HeaderLengthTooLarge when rng.Next(3) == 0:
                    {
                        // The used length is the other half of the check: shorter than a header.
                        ushort used = bed.UsedIdx(0);
                        var (id, _) = bed.UsedElement(0, used - 1);
                        uint shortLength = (uint)rng.Next(0, RpmsgHeader.Size);
                        bed.WriteUsedElement(0, used - 1, id, shortLength);
                        ExpectCounted(error: true, $"used length {shortLength} is shorter");
                        return;
                    }
                case ChaosFault.HeaderLengthTooLarge:
                    {
                        ushort bad = (ushort)rng.Next(length + 1, 0x10000);
                        bed.Write16(at + 12, bad);
                        ExpectCounted(error: true, $"header len {bad} exceeds the {length} payload bytes");
                        return;
                    }
                case ChaosFault.UnknownDestination:
                    {
                        uint dst;
                        do
                            dst = (uint)rng.Next(int.MinValue, int.MaxValue);
                        while (bed.Host.Endpoints.Any(e => e.Address == dst));
                        bed.Write32(at + 4, dst);
                        ExpectCounted(error: false, $"no endpoint at dst 0x{dst:X}");
                        return;
                    }
                default:
                    {
                        uint src = rng.Next(2) == 0 ? RpmsgAddress.Any : RpmsgAddress.NameService;
                        bed.Write32(at, src);
                        ExpectCounted(error: true, $"src 0x{src:X} is reserved");
                        return;
                    }
            }
        }

        private void NameService()
        {
            var message = new byte[NameServiceMessage.Size];
            string name = rng.Next(2) == 0 ? ChaosBed.EchoService : $"svc-{rng.Next(1000)}";
            uint address = (uint)rng.Next(0x1000, 0x2000);
            uint flags = 0;
            string expect;
            switch (outcome.Fault)
            {
                case ChaosFault.NameServiceNoNul:
                    for (int i = 0; i < 32; i++)
                        message[i] = (byte)rng.Next(1, 256);
                    expect = "no NUL terminator";
                    break;
                case ChaosFault.NameServiceAddressAny:
                    address = RpmsgAddress.Any;
                    expect = "ADDR_ANY";
                    break;
                case ChaosFault.NameServiceAddressReserved:
                    address = RpmsgAddress.NameService;
                    expect = $"names the name-service address {RpmsgAddress.NameService}";
                    break;
                case ChaosFault.NameServiceDestroyUnknown:
                    flags = 1;
                    expect = $"destroy for unknown channel '{name}' at 0x{address:X}";
                    break;
                default:
                    name = $"evil-{rng.Next(1000)}";
                    expect = $"announcement of '{name}' at 0x{address:X} refused: not in AllowedServices";
                    break;
            }
            if (outcome.Fault != ChaosFault.NameServiceNoNul)
                System.Text.Encoding.UTF8.GetBytes(name).CopyTo(message, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(32), address);
            BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(36), flags);
            int channels = bed.Host.Channels.Count;
            bed.RemoteSendRaw(ChaosBed.RemoteDataAddress, RpmsgAddress.NameService, message);
            ExpectCounted(error: true, expect);
            outcome.Check(bed.Host.Channels.Count == channels, $"channels went from {channels} to {bed.Host.Channels.Count}");
        }

        private void Flood()
        {
            int free = ChaosBed.MaxEndpoints - bed.Host.Endpoints.Count;
            int channelsBefore = bed.Host.Channels.Count;
            long refusedBefore = bed.Host.Counters.NameServiceRefused;
            int creates = rng.Next(1, 4 * ChaosBed.MaxEndpoints);
            int unbound = rng.Next(0, 3 * ChaosBed.MaxEndpoints);
            var message = new byte[NameServiceMessage.Size];
            for (int i = 0; i < creates + unbound; i++)
            {
                Array.Clear(message);
                System.Text.Encoding.UTF8.GetBytes(i < creates ? ChaosBed.FloodService : ChaosBed.UnboundService).CopyTo(message, 0);
                BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(32), (uint)(0x2000 + i));
                bed.RemoteSendRaw(ChaosBed.RemoteDataAddress, RpmsgAddress.NameService, message);
            }
            Settle();
            // Creates come first: bound by the endpoint table; then unbound names fill the announced-services bound.
            int channels = channelsBefore + Math.Min(creates, free);
            int unboundKept = Math.Min(unbound, ChaosBed.MaxAnnouncedServices - channels);
            long refused = (creates - Math.Min(creates, free)) + (unbound - unboundKept);
            outcome.Reported = $"{creates} creates + {unbound} unbound announcements, {refused} refused";
            outcome.Check(bed.Host.Endpoints.Count <= ChaosBed.MaxEndpoints, $"host has {bed.Host.Endpoints.Count} endpoints, MaxEndpoints is {ChaosBed.MaxEndpoints}");
            outcome.Check(bed.Host.Channels.Count == channels, $"host has {bed.Host.Channels.Count} channels, expected {channels}");
            long counted = bed.Host.Counters.NameServiceRefused - refusedBefore;
            outcome.Check(counted == refused, $"host counted {counted} refused announcements, expected {refused}");
            if (refused > 0)
                outcome.Check(bed.HostLog.Contains("refused"), "no host log entry for a refused announcement");
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

        // ---- status byte and harmless scribbles ---------------------------------------------------

        private void Status()
        {
            var written = bed.Status;
            byte value;
            string expect;
            if (outcome.Fault == ChaosFault.StatusNeedsReset)
            {
                value = (byte)((byte)written | (byte)VirtioStatus.NeedsReset | (rng.Next(2) == 0 ? 0 : rng.Next(256)));
                expect = "DEVICE_NEEDS_RESET";
            }
            else
            {
                do
                    value = (byte)(rng.Next(2) == 0 ? (byte)written ^ (1 << rng.Next(8)) : rng.Next(256));
                while (value == (byte)written || (value & (byte)VirtioStatus.NeedsReset) != 0);
                expect = $"status byte is 0x{value:X2}, but the host wrote 0x{(byte)written:X2}";
            }
            bed.Status = (VirtioStatus)value;
            _hostHealthy = false;
            bed.PollHost();
            CheckBroken(bed.Host, "status byte", expect);
            CheckFailsFast();
        }

        private void Scribble()
        {
            for (int ring = 0; ring < 2; ring++)
            {
                var inFlight = bed.InFlight(ring);
                for (int d = 0; d < ChaosBed.VringNum; d++)
                {
                    if (!inFlight.Contains(d))
                        bed.WriteDescriptor(ring, d, (ulong)rng.NextInt64(), (uint)rng.Next(), (ushort)rng.Next(0x10000), (ushort)rng.Next(0x10000));
                }
                // Free avail slots (not between used.idx and avail.idx) and the device-written hints.
                ushort avail = bed.AvailIdx(ring);
                for (int k = 0; k < ChaosBed.VringNum - inFlight.Count; k++)
                    bed.WriteAvailEntry(ring, avail + k, (ushort)rng.Next(0x10000));
                bed.WriteUsedFlags(ring, (ushort)rng.Next(0x10000));
                bed.WriteAvailEvent(ring, (ushort)rng.Next(0x10000));
            }
            outcome.Reported = "ignored: the host never reads back what it owns";
        }

        // ---- timing faults (host on its own dispatcher) -----------------------------------------------

        private void Stall()
        {
            _hostHealthy = false;
            int filled = 0;
            while (filled <= ChaosBed.TxBuffers && bed.HostData.TrySendTo(ChaosBed.RemoteDataAddress, Payload(-6)))
                filled++;
            outcome.Check(filled <= ChaosBed.TxBuffers, $"{filled} sends succeeded with {ChaosBed.TxBuffers} tx buffers and a stalled remote");
            var timeout = bed.Host.Options.SendTimeout;
            var clock = Stopwatch.StartNew();
            try
            {
                bed.HostData.SendTo(ChaosBed.RemoteDataAddress, Payload(-6), timeout);
                outcome.Violation("a blocking send succeeded although the remote consumes nothing");
            }
            catch (TimeoutException e)
            {
                outcome.Reported = e.Message;
            }
            outcome.Check(clock.Elapsed < timeout + Bound, $"a send with timeout {timeout.TotalMilliseconds} ms blocked {clock.Elapsed.TotalMilliseconds:F0} ms");
            var async = bed.HostData.SendToAsync(ChaosBed.RemoteDataAddress, Payload(-7)).AsTask();
            try
            {
                if (!async.Wait(timeout + Bound))
                    outcome.Violation("an async send outlived its timeout");
                else
                    outcome.Violation("an async send succeeded although the remote consumes nothing");
            }
            catch (AggregateException e) when (e.InnerException is TimeoutException)
            {
            }
            outcome.Check(bed.Host.State == RpmsgDeviceState.Running, $"a stall is not a protocol violation, but the host is {bed.Host.State}");
            StopLikeLifecycle("remote stalled");
        }

        /// <summary>What the lifecycle does when the remote stopped answering: stop the device; every send fails at once afterwards.</summary>
        private void StopLikeLifecycle(string reason)
        {
            var stop = Task.Run(() => bed.Host.Stop(reason));
            outcome.Check(stop.Wait(Bound), "Stop did not finish");
            try
            {
                bed.HostData.TrySendTo(ChaosBed.RemoteDataAddress, Payload(-8));
                outcome.Violation("a send after Stop did not fail");
            }
            catch (RpmsgDeviceUnavailableException)
            {
            }
        }

        private void KickFlood()
        {
            long rxBefore = bed.Host.Counters.RxMessages;
            int kicks = rng.Next(100, 5000);
            int sent = 0;
            for (int i = 0; i < kicks; i++)
            {
                bed.RemoteBell.RingSpurious();
                if (rng.Next(500) == 0)
                {
                    bed.RemoteSend(ChaosBed.HostDataAddress, Payload(_toHost++));
                    sent++;
                }
            }
            Settle();
            outcome.Reported = $"{kicks} spurious doorbells";
            long rx = bed.Host.Counters.RxMessages - rxBefore;
            outcome.Check(rx == sent, $"{sent} messages sent during the doorbell flood, host counted {rx}");
        }

        private void NoKicks()
        {
            bed.RemoteBell.DropRings = true;
            int count = rng.Next(1, 3 * ChaosBed.TxBuffers);
            for (int i = 0; i < count; i++)
                bed.RemoteSend(ChaosBed.HostDataAddress, Payload(_toHost++));
            Settle();
            outcome.Reported = $"{count} messages without a doorbell, delivered by the idle re-check";
        }

        private void DieMidMessage()
        {
            _hostHealthy = false;
            _remoteHealthy = false;
            bed.RemoteBell.DropRings = true;
            var inFlight = bed.InFlight(0);
            int head = inFlight[rng.Next(inFlight.Count)];
            var (address, _, _, _) = bed.Descriptor(0, head);
            long at = bed.Memory.Translate(address, ChaosBed.BufferSize).Offset;
            var partial = new byte[RpmsgHeader.Size + 8];
            new RpmsgHeader(ChaosBed.RemoteDataAddress, ChaosBed.HostDataAddress, 0, 8, 0).Write(partial);
            BinaryPrimitives.WriteInt32LittleEndian(partial.AsSpan(RpmsgHeader.Size), _toHost);
            bed.WriteBytes(at, partial.AsSpan(0, rng.Next(1, partial.Length + 1)));
            if (rng.Next(2) == 0)
                bed.WriteUsedElement(0, bed.UsedIdx(0), (uint)head, (uint)partial.Length); // element written, index never published
            // A sender blocked on a full ring when the remote died must be released by the lifecycle's Stop.
            while (bed.HostData.TrySendTo(ChaosBed.RemoteDataAddress, Payload(-9)))
            {
            }
            var blocked = Task.Run(() => bed.HostData.SendTo(ChaosBed.RemoteDataAddress, Payload(-9), TimeSpan.FromSeconds(60)));
            // Not a race fix: a window in which the dispatcher re-checks the half-written ring a few times.
            Thread.Sleep(20);
            StopLikeLifecycle("remote died");
            try
            {
                outcome.Check(blocked.Wait(Bound), "a sender blocked when the remote died was not released by Stop");
                outcome.Violation("a sender blocked when the remote died completed its send");
            }
            catch (AggregateException e) when (e.InnerException is RpmsgDeviceUnavailableException u)
            {
                outcome.Reported = "blocked sender released: " + u.Message;
            }
            CheckSequence("remote->host (half-written message must not arrive)", bed.HostReceived(), _toHost);
        }

        // ---- a hostile host against our device-role RpmsgDevice ---------------------------------------

        private void DeviceRole()
        {
            _remoteHealthy = false;
            bed.HostSend(Payload(-10)); // published on vring 1, not yet taken by the remote
            ushort avail = bed.AvailIdx(1);
            int slot = avail - 1;
            int head = bed.AvailEntry(1, slot);
            string expect;
            switch (outcome.Fault)
            {
                case ChaosFault.AvailIndexJump:
                    {
                        ushort value = rng.Next(2) == 0 ? (ushort)(avail + ChaosBed.VringNum + rng.Next(0, 0x8000)) : (ushort)(avail - 2 - rng.Next(0, 8));
                        bed.WriteAvailIdx(1, value);
                        expect = $"avail.idx is {value}";
                        break;
                    }
                case ChaosFault.AvailHeadOutOfRange:
                    {
                        ushort value = (ushort)rng.Next(ChaosBed.VringNum, 0x10000);
                        bed.WriteAvailEntry(1, slot, value);
                        expect = $"(head) is {value}";
                        break;
                    }
                case ChaosFault.DescriptorOutOfRange:
                    {
                        var (_, length, _, _) = bed.Descriptor(1, head);
                        ulong address = rng.Next(3) switch
                        {
                            0 => (ulong)ChaosBed.RegionSize + (ulong)rng.Next(0, 1 << 20),
                            1 => ulong.MaxValue - (ulong)rng.Next(0, 8),
                            _ => (ulong)ChaosBed.RegionSize - (ulong)rng.Next(1, (int)length),
                        };
                        bed.WriteDescriptor(1, head, address, length, 0, 0);
                        expect = $"addr 0x{address:X}";
                        break;
                    }
                case ChaosFault.ChainLoop:
                    {
                        // A cycle of 1..num descriptors through the head; the rest are valid so only the loop is wrong.
                        int cycle = rng.Next(1, ChaosBed.VringNum + 1);
                        var order = Enumerable.Range(0, ChaosBed.VringNum).Where(d => d != head).OrderBy(_ => rng.Next()).Take(cycle - 1).Prepend(head).ToArray();
                        for (int i = 0; i < order.Length; i++)
                            bed.WriteDescriptor(1, order[i], ChaosBed.PoolAddress, 16, 1, (ushort)order[(i + 1) % order.Length]);
                        expect = $"longer than num ({ChaosBed.VringNum})";
                        break;
                    }
                default:
                    {
                        var (address, length, _, _) = bed.Descriptor(1, head);
                        ushort next = (ushort)rng.Next(ChaosBed.VringNum, 0x10000);
                        bed.WriteDescriptor(1, head, address, length, 1, next);
                        expect = $"has next {next}";
                        break;
                    }
            }
            try
            {
                bed.PollRemote();
                outcome.Violation("the remote polled a corrupted ring without complaint");
            }
            catch (RpmsgDeviceUnavailableException)
            {
            }
            CheckBroken(bed.Remote, "vq1", expect);
            outcome.Check(bed.Host.State == RpmsgDeviceState.Running, $"the host is {bed.Host.State} after the remote broke");
        }
    }
}
