namespace VirtioRpmsg.Rpmsg;

/// <summary>A parked waiter that links itself into its owner's singly linked list (no node allocated per wait).</summary>
internal interface IRpmsgListedWaiter<T> where T : class, IRpmsgListedWaiter<T>
{
    /// <summary>The next waiter in the list this one is on.</summary>
    ref T? NextWaiter { get; }
}

/// <summary>The list operation the waiter lists share (callers hold the list's lock).</summary>
internal static class RpmsgWaiterList
{
    /// <summary>Unlinks <paramref name="waiter"/> from the list at <paramref name="head"/>; false when it is not on it (someone took it first).</summary>
    internal static bool TryRemove<T>(ref T? head, T waiter) where T : class, IRpmsgListedWaiter<T>
    {
        ref var link = ref head;
        while (link is not null)
        {
            if (ReferenceEquals(link, waiter))
            {
                link = waiter.NextWaiter;
                waiter.NextWaiter = null;
                return true;
            }
            link = ref link.NextWaiter;
        }
        return false;
    }
}
