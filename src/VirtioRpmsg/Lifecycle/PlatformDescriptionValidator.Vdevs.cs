namespace VirtioRpmsg.Lifecycle;

// Several vdevs of one remote: each checked as vdev 0 is, then against each other.
internal static partial class PlatformDescriptionValidator
{
    private static void ValidateAdditionalVdevs(PlatformDescription d, Extent?[] regions, Extent? table, List<Extent> vdev0)
    {
        if (d.AdditionalVdevs is not { Count: > 0 } more)
            return;
        if (d.ResourceTable is null)
            throw Error("additionalVdevs", $"[{more.Count} entries]", "several vdevs need a resource table: each is one vdev entry in it, with its own notify ids");
        var placed = new List<(int Vdev, Extent Part)>(vdev0.Select(e => (0, e)));
        var channels = new List<(int Vdev, string Key)>();
        if (ChannelOf(d.Doorbell) is { } key0)
            channels.Add((0, key0));
        for (int i = 1; i <= more.Count; i++)
        {
            string prefix = PlatformDescription.VdevPathPrefix(i);
            var entry = more[i - 1] ?? throw Error(prefix.TrimEnd('.'), "null", "must be an object with \"vdev\" and \"doorbell\"");
            var single = d with { Vdev = entry.Vdev, Doorbell = entry.Doorbell, AdditionalVdevs = null };
            List<Extent> parts;
            try
            {
                // The same rules as vdev 0; only the path in the error changes.
                parts = ValidateVdev(single, regions, table);
                ValidateDoorbell(single);
            }
            catch (PlatformDescriptionException e) when (e.JsonPath.StartsWith("vdev", StringComparison.Ordinal) || e.JsonPath.StartsWith("doorbell", StringComparison.Ordinal))
            {
                throw new PlatformDescriptionException(prefix + e.JsonPath, e.Value, e.Detail, e.Source, e);
            }
            foreach (var part in parts)
            {
                foreach (var (other, taken) in placed)
                {
                    if (part.Overlaps(taken))
                        throw Error(prefix + part.Path, Hex(part.Start),
                            $"{part.What} [{Hex(part.Start)}, +{Hex(part.Length)}) overlaps vdev {other}'s {Bare(taken.What)} [{Hex(taken.Start)}, +{Hex(taken.Length)}); every vdev needs its own vrings and pool");
                }
            }
            placed.AddRange(parts.Select(e => (i, e)));
            if (ChannelOf(entry.Doorbell) is { } key)
            {
                foreach (var (other, otherKey) in channels)
                {
                    if (otherKey == key)
                        throw Error(prefix + "doorbell", key, $"is vdev {other}'s doorbell channel too; every vdev needs its own (a kick names no vdev)");
                }
                channels.Add((i, key));
            }
        }
    }

    /// <summary>"the buffer pool" as "buffer pool", after a possessive.</summary>
    private static string Bare(string what) => what.StartsWith("the ", StringComparison.Ordinal) ? what[4..] : what;

    /// <summary>
    /// What identifies a doorbell's channel, however it is spelt ("uio0" and "/dev/uio0" are one device, "/tmp/bell" and
    /// "/tmp//bell" one socket); null when it has none of its own to compare (polling, eventfd passed by the caller).
    /// </summary>
    private static string? ChannelOf(DoorbellDescription? b) => b?.Kind switch
    {
        PlatformDoorbellKind.UnixSocket when b.Path is { } path =>
            $"unixSocket \"{(path.StartsWith('@') ? path : System.IO.Path.GetFullPath(path))}\"",
        PlatformDoorbellKind.Eventfd when b.Socket is not null => $"eventfd socket \"{b.Socket}\"",
        PlatformDoorbellKind.Uio when b.Device is not null => $"uio \"{System.IO.Path.GetFileName(b.Device)}\"",
        PlatformDoorbellKind.Uio => $"uio name \"{b.DeviceName}\"",
        _ => null,
    };
}
