using System.Runtime.ExceptionServices;

namespace VirtioRpmsg.Tests.Infrastructure;

internal static class OtherThread
{
    /// <summary>Runs <paramref name="action"/> on a new thread, waits up to <paramref name="bound"/> for it, and rethrows its exception here.</summary>
    public static void Run(Action action, TimeSpan bound) => Start(action).Join(bound);

    /// <summary>Starts <paramref name="action"/> on a new thread; <see cref="Running.Join"/> waits for it and rethrows its exception.</summary>
    public static Running Start(Action action) => new(action);

    internal sealed class Running
    {
        private readonly Thread _thread;
        private Exception? _failure;

        internal Running(Action action)
        {
            _thread = new Thread(() =>
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    _failure = e;
                }
            });
            _thread.Start();
        }

        /// <summary>Waits up to <paramref name="bound"/> for the thread and rethrows its exception here.</summary>
        public void Join(TimeSpan bound)
        {
            Assert.True(_thread.Join(bound), "the other thread did not finish");
            if (_failure is not null)
                ExceptionDispatchInfo.Throw(_failure);
        }
    }
}
