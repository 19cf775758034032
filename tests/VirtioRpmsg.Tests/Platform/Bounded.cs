namespace VirtioRpmsg.Tests.Platform;

/// <summary>Runs work on another thread and fails the test (instead of hanging) if it takes longer than a bound.</summary>
public static class Bounded
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public static T Run<T>(Func<T> work, TimeSpan? limit = null)
    {
        var task = Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return Await(task, limit);
    }

    /// <summary>Waits for an already started task, failing after the bound; rethrows the task's own exception.</summary>
    public static T Await<T>(Task<T> task, TimeSpan? limit = null)
    {
        try
        {
            if (!task.Wait(limit ?? Limit))
                Assert.Fail($"operation did not finish within {(limit ?? Limit).TotalSeconds} s");
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
        }
        return task.Result;
    }
}
