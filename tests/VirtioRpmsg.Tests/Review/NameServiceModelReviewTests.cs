using System.Buffers.Binary;
using System.Text;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (name service under a buggy or hostile remote): seeded random name-service traffic — creates and destroys of a
/// few names at a few addresses, repeats, destroys of unknown services, names filling all 32 bytes, invalid UTF-8, flags
/// beyond bit 0, the addresses ADDR_ANY and 53 — against a model of what Linux's rpmsg_ns keeps. After each burst the
/// host's channels, unbound services, endpoints and counters are exactly the model's.
/// </summary>
public class NameServiceModelReviewTests
{
    private const int MaxAnnounced = 6;
    private static readonly string[] Names = ["svc-a", "svc-b", "svc-c", new string('n', 31)];
    private static readonly uint[] Addresses = [0x0, 0x1, 0x400, 0x401, 0x402, RpmsgAddress.NameService, RpmsgAddress.Any];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomTraffic_HostStateMatchesTheModel(int seed)
    {
        using var loop = RpmsgLoopback.Create(host: o => o.MaxAnnouncedServices = MaxAnnounced);
        // Drivers for two names; the others stay unbound.
        int probes = 0, removes = 0;
        foreach (var name in Names.Take(2))
            loop.Host.RegisterDriver(new RpmsgServiceDriver(name) { Probe = _ => probes++, Remove = _ => removes++, Receive = (_, _, _) => { } });
        using var sender = loop.Remote.CreateEndpoint(0x700);
        int baseEndpoints = loop.Host.Endpoints.Count;
        var rng = new Random(seed);
        var live = new List<(string Name, uint Address)>();
        long errors = 0, duplicates = 0, refused = 0;
        int created = 0;
        for (int burst = 0; burst < 20; burst++)
        {
            for (int i = 0; i < 50; i++)
            {
                var message = new byte[NameServiceMessage.Size];
                string name = Names[rng.Next(Names.Length)];
                uint address = Addresses[rng.Next(Addresses.Length)];
                bool destroy = rng.Next(2) == 0;
                uint flags = (destroy ? 1u : 0u) | (rng.Next(4) == 0 ? (uint)rng.Next() & ~1u : 0u);
                Encoding.UTF8.GetBytes(name, message);
                int kind = rng.Next(10);
                if (kind == 0 && name.Length == 31)
                    message[31] = (byte)'Z'; // fills 32 bytes without NUL: taken as its first 31
                if (kind == 1)
                    message[1] = 0xFF; // invalid UTF-8: refused
                BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(32), address);
                BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(36), flags);
                sender.SendTo(RpmsgAddress.NameService, message);

                if (kind == 1 || address == RpmsgAddress.Any || address == RpmsgAddress.NameService)
                {
                    errors++;
                    continue;
                }
                var key = (name, address);
                if (destroy)
                {
                    if (!live.Remove(key))
                        errors++;
                }
                else if (live.Contains(key))
                {
                    duplicates++;
                }
                else if (live.Count >= MaxAnnounced)
                {
                    refused++;
                }
                else
                {
                    live.Add(key);
                    if (Array.IndexOf(Names, name) < 2)
                        created++;
                }
            }
            // In order on the dispatcher: once this marker is seen, everything before it was handled.
            string marker = "marker-" + burst;
            using var seen = new ManualResetEventSlim();
            void OnDestroyed(string n, uint _) { if (n == marker) seen.Set(); }
            loop.Host.ServiceDestroyed += OnDestroyed;
            var m = new byte[NameServiceMessage.Size];
            new NameServiceMessage(marker, 0x999, NameServiceFlags.Destroy).Write(m);
            sender.SendTo(RpmsgAddress.NameService, m);
            errors++;
            Assert.True(seen.Wait(TimeSpan.FromSeconds(30)), $"burst {burst}: marker not seen");
            loop.Host.ServiceDestroyed -= OnDestroyed;

            string detail = $"seed {seed} burst {burst}: model live [{string.Join(", ", live.Select(l => $"{l.Name}@{l.Address:X}"))}], host channels [{string.Join(", ", loop.Host.Channels)}]";
            var channels = loop.Host.Channels.Select(c => (c.Name, c.RemoteAddress)).OrderBy(c => c.Name).ThenBy(c => c.RemoteAddress).ToArray();
            var expected = live.Where(l => Array.IndexOf(Names, l.Name) < 2).OrderBy(c => c.Name).ThenBy(c => c.Address).ToArray();
            Assert.True(expected.SequenceEqual(channels), detail);
            Assert.Equal(live.Count - expected.Length, loop.Host.UnboundServiceCount);
            Assert.Equal(baseEndpoints + expected.Length, loop.Host.Endpoints.Count);
            var counters = loop.Host.Counters;
            Assert.True(errors == counters.Errors, $"errors {counters.Errors}, model {errors}; " + detail);
            Assert.True(duplicates == counters.NameServiceDuplicates, $"duplicates {counters.NameServiceDuplicates}, model {duplicates}; " + detail);
            Assert.True(refused == counters.NameServiceRefused, $"refused {counters.NameServiceRefused}, model {refused}; " + detail);
            Assert.Equal(created, probes);
            Assert.Equal(created - expected.Length, removes);
        }
    }
}
