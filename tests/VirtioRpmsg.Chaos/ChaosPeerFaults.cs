using System.Buffers.Binary;
using System.Diagnostics;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Chaos;

/// <summary>The faults of a misbehaving peer: name-service abuse, floods, stalls, kicks, death mid-message, the device role breaking.</summary>
public static partial class ChaosScenario
{
    private sealed partial class Attempt
    {
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
                    message[0] = 0xFF; // never valid UTF-8: the name is rejected whatever the random rest holds
                    expect = "not valid UTF-8";
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
            // Creates come first: bound by the endpoint table; one refused for the full table is still the peer's
            // service (its DESTROY is no error) and holds an announced-services slot, as do the channels. Then unbound
            // names fill what is left of that bound.
            int channels = channelsBefore + Math.Min(creates, free);
            int announced = Math.Min(channelsBefore + creates, ChaosBed.MaxAnnouncedServices);
            int unboundKept = Math.Min(unbound, ChaosBed.MaxAnnouncedServices - announced);
            long refused = (creates - Math.Min(creates, free)) + (unbound - unboundKept);
            outcome.Reported = $"{creates} creates + {unbound} unbound announcements, {refused} refused";
            outcome.Check(bed.Host.Endpoints.Count <= ChaosBed.MaxEndpoints, $"host has {bed.Host.Endpoints.Count} endpoints, MaxEndpoints is {ChaosBed.MaxEndpoints}");
            outcome.Check(bed.Host.Channels.Count == channels, $"host has {bed.Host.Channels.Count} channels, expected {channels}");
            long counted = bed.Host.Counters.NameServiceRefused - refusedBefore;
            outcome.Check(counted == refused, $"host counted {counted} refused announcements, expected {refused}");
            if (refused > 0)
                outcome.Check(bed.HostLog.Contains("refused"), "no host log entry for a refused announcement");
        }

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
