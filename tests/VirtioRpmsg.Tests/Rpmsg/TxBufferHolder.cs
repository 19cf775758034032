using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// An application thread that takes a zero-copy tx buffer, writes into it and holds it (with its lease) until
/// <see cref="Release"/>: a buffer still open while its device stops, is reset, or is replaced.
/// </summary>
internal sealed class TxBufferHolder : IDisposable
{
    private readonly ManualResetEventSlim _taken = new();
    private readonly ManualResetEventSlim _release = new();
    private readonly Thread _thread;
    private Exception? _failure;
    private volatile bool _holding;

    /// <summary>True from the take until the release disposed the buffer.</summary>
    internal bool IsHolding => _holding;

    /// <summary>Starts the thread and returns once it holds a buffer of <paramref name="endpoint"/>.</summary>
    internal TxBufferHolder(RpmsgEndpoint endpoint, TimeSpan bound)
    {
        _thread = new Thread(() =>
        {
            try
            {
                var tx = endpoint.GetTxBuffer(bound);
                tx.Span[0] = 0xEE;
                _holding = true;
                _taken.Set();
                _release.Wait(bound);
                tx.Dispose();
                _holding = false;
            }
            catch (Exception e)
            {
                _failure = e; // reported by the test thread, never left to end the process
            }
            finally
            {
                _taken.Set();
            }
        });
        _thread.Start();
        Assert.True(_taken.Wait(bound), "the holder took no tx buffer");
        Assert.Null(_failure);
    }

    /// <summary>Disposes the buffer on its thread and waits for that thread to end.</summary>
    internal void Release()
    {
        _release.Set();
        _thread.Join();
        Assert.Null(_failure);
        Assert.False(_holding);
    }

    public void Dispose()
    {
        _release.Set();
        _thread.Join();
        _taken.Dispose();
        _release.Dispose();
    }
}
