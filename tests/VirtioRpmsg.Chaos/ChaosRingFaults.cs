using System.Buffers.Binary;
using System.Diagnostics;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Chaos;

/// <summary>The injection dispatch and the faults written into the rings and buffers: indices, used elements, headers, status, scribbles.</summary>
public static partial class ChaosScenario
{
    private sealed partial class Attempt
    {
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
    }
}
