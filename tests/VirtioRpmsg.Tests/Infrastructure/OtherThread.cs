using System.Runtime.ExceptionServices;

namespace VirtioRpmsg.Tests.Infrastructure;

internal static class OtherThread
{
    /// <summary>Runs <paramref name="action"/> on a new thread, waits up to <paramref name="bound"/> for it, and rethrows its exception here.</summary>
    public static void Run(Action action, TimeSpan bound)
    {
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        t.Start();
        Assert.True(t.Join(bound), "the other thread did not finish");
        if (failure is not null)
            ExceptionDispatchInfo.Throw(failure);
    }
}
