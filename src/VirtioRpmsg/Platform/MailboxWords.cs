namespace VirtioRpmsg.Platform;

/// <summary>Checks a mailbox's choice between one fixed word and one word per vring.</summary>
internal static class MailboxWords
{
    /// <summary>
    /// The per-vring kicks for <paramref name="vringValues"/>, or for the Linux driver's words
    /// (<paramref name="linux0"/>, <paramref name="linux1"/>) when neither it nor <paramref name="fixedValue"/> is given;
    /// null when <paramref name="fixedValue"/> is (every kick sends that word).
    /// </summary>
    internal static VringKicks? Kicks(uint? fixedValue, IReadOnlyList<uint>? vringValues, uint linux0, uint linux1, string what) =>
        Kicks(fixedValue, vringValues, () => new VringKicks(linux0, linux1), what);

    /// <summary>
    /// As <see cref="Kicks(uint?, IReadOnlyList{uint}?, uint, uint, string)"/>, the Linux driver's words being
    /// <paramref name="wordOf"/> of the vdev's notify ids <paramref name="ids"/> as they are at each kick.
    /// </summary>
    internal static VringKicks? Kicks(uint? fixedValue, IReadOnlyList<uint>? vringValues, VringNotifyIds ids, Func<uint, uint> wordOf, string what) =>
        Kicks(fixedValue, vringValues, () => new VringKicks(ids, wordOf), what);

    private static VringKicks? Kicks(uint? fixedValue, IReadOnlyList<uint>? vringValues, Func<VringKicks> linux, string what)
    {
        if (fixedValue is not null && vringValues is not null)
            throw new ArgumentException($"{what}: give ringValue (one word for every kick) or vringValues (a word per vring), not both.", nameof(vringValues));
        if (vringValues is not null && vringValues.Count != 2)
            throw new ArgumentException($"{what}: vringValues has {vringValues.Count} words; an rpmsg vdev has two vrings, so it needs two (vring 0, vring 1).", nameof(vringValues));
        if (fixedValue is not null)
            return null;
        return vringValues is null ? linux() : new VringKicks(vringValues[0], vringValues[1]);
    }
}
