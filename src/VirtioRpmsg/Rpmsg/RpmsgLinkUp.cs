using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// "The link is up" as something to wait for: completed when the device goes Running, failed when it
/// breaks or stops first. The outcome is always read back from the device state, so a waiter woken by
/// a failure reports the same exception as any other call.
/// </summary>
internal sealed class RpmsgLinkUp
{
    private readonly RpmsgDevice _device;
    private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal RpmsgLinkUp(RpmsgDevice device) => _device = device;

    internal void Complete() => _up.TrySetResult();

    /// <summary>The link came up at some point (it stays true after a stop).</summary>
    internal bool CameUp => _up.Task.IsCompletedSuccessfully;

    internal void Fail(Exception reason) => _up.TrySetException(reason);

    internal bool Wait(TimeSpan timeout, CancellationToken cancellationToken)
    {
        MappingLease.ThrowIfHeld("RpmsgDevice.WaitForLinkUp");
        ThrowIfNotStarted();
        try
        {
            _up.Task.Wait(timeout, cancellationToken);
        }
        catch (AggregateException)
        {
            // Failed by Break/Stop: reported below.
        }
        return Outcome(timedOut: true);
    }

    internal async ValueTask<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ThrowIfNotStarted();
        try
        {
            await _up.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (RpmsgDeviceUnavailableException)
        {
            // Reported below.
        }
        return Outcome(timedOut: false);
    }

    private bool Outcome(bool timedOut)
    {
        var state = _device.State;
        if (state == RpmsgDeviceState.Running)
            return true;
        if (timedOut && state is not (RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped))
            return false;
        throw _device.Unavailable(state);
    }

    private void ThrowIfNotStarted()
    {
        if (_device.State == RpmsgDeviceState.Created)
            throw new InvalidOperationException($"rpmsg device '{_device.Name}' is not started; call Start first");
    }
}
