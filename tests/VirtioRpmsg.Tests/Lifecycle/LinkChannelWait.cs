using System.Reflection;
using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A link whose channel waits time out soon. <see cref="RpmsgLinkOptions.Timeout"/> bounds the open too: the host's
/// doorbell accept waits that long for the remote to connect (<see cref="MultiVdevRemote"/> connects on a thread-pool
/// task), so with a short one a loaded machine, or a busy pool, that ran the remote late failed the open, not the wait
/// under test. The link opens with <see cref="Open"/>'s long bound and only then takes the short one.
/// </summary>
internal static class LinkChannelWait
{
    internal static readonly TimeSpan Open = TimeSpan.FromSeconds(30);

    private static readonly FieldInfo Options = typeof(RpmsgLink).GetField("_options", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new MissingFieldException(nameof(RpmsgLink), "_options");

    /// <summary>From now on <paramref name="link"/>'s channel waits give up after <paramref name="timeout"/>.</summary>
    internal static RpmsgLink Shorten(RpmsgLink link, TimeSpan timeout)
    {
        var options = (RpmsgLinkOptions)Options.GetValue(link)!;
        Options.SetValue(link, options with { Timeout = timeout });
        return link;
    }
}
