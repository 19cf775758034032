using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// <c>rpmsg remote --vhost-user SOCKET</c>: the simulated remote's services served to vhost-user guests (a
/// User-Mode Linux kernel running its own virtio_rpmsg_bus) through a <see cref="VhostUserRpmsgServer"/>.
/// Each guest device gets a fresh <see cref="SimulatedRemote"/>; it is disposed with the device.
/// Output lines (flushed one by one, for scripts): <c>LISTENING path</c>; per guest <c>GUEST n CONNECTED</c>,
/// <c>ENDPOINT name 0xADDR</c>, <c>LINKUP n</c> once the guest's driver is ready, and <c>GUEST n GONE reason</c>
/// or <c>GUEST n FAULT rule field=value: message</c>; replies to <see cref="SimulatedRemoteCommands"/> read from
/// the input (on the current guest's remote). The input's end or "quit" (or cancellation) ends it.
/// </summary>
public static class SimulatedVhostUserRemote
{
    /// <summary>Serves guests on <paramref name="socketPath"/> until the input ends (or <paramref name="cancellationToken"/> fires when <paramref name="input"/> is null).</summary>
    public static int Run(string socketPath, SimulatedRemoteOptions options, TextReader? input, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        // Lines are written under a lock on the writer itself, so a reader that locks it sees whole lines.
        var sync = output;
        void Say(string line)
        {
            lock (sync)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }
        SimulatedRemote? current = null;
        int guest = 0;
        var serverOptions = new VhostUserRpmsgOptions
        {
            Device = new RpmsgDeviceOptions { Name = "vhost-user-remote", WaitStrategy = options.WaitStrategy, SendTimeout = options.SendTimeout, Logger = options.Logger },
            Logger = options.Logger,
            GuestConnected = n =>
            {
                guest = n;
                Say($"GUEST {n} CONNECTED");
            },
            DeviceCreated = device =>
            {
                var remote = SimulatedRemote.Create(device, options);
                int n = guest;
                device.StateChanged += (_, state) =>
                {
                    if (state == RpmsgDeviceState.Running)
                        Say($"LINKUP {n}");
                };
                Volatile.Write(ref current, remote);
                if (remote.EchoAddress != 0)
                    Say($"ENDPOINT echo 0x{remote.EchoAddress:X}");
                if (remote.SinkAddress != 0)
                    Say($"ENDPOINT sink 0x{remote.SinkAddress:X}");
            },
            DeviceRemoved = (device, _) =>
            {
                var remote = Interlocked.Exchange(ref current, null);
                remote?.Dispose();
            },
            GuestDisconnected = (n, fault, reason) =>
                Say(fault is null ? $"GUEST {n} GONE {reason}" : $"GUEST {n} FAULT {fault.Rule} {fault.Field}=0x{fault.Value:X}: {fault.Message}"),
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var server = new VhostUserRpmsgServer(socketPath, serverOptions);
        // Listening already: a guest may connect now, but its lines come after this one.
        Say($"LISTENING {socketPath}");
        var serving = Task.Factory.StartNew(() =>
        {
            try
            {
                server.Run(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            if (input is not null)
            {
                var reader = new Thread(() =>
                {
                    SimulatedRemoteChild.Serve(new SimulatedRemoteCommands(() => Volatile.Read(ref current)), input, new LockedWriter(output, sync));
                    stop.Cancel();
                }) { IsBackground = true, Name = "vhost-user-remote-commands" };
                reader.Start();
            }
            // Ends when the input ends, on cancellation, or if serving failed.
            Task.WaitAny([serving], Timeout.Infinite, stop.Token);
            serving.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            stop.Cancel();
            // The server thread leaves its guest's Run through the token; bounded so a stuck guest cannot hold the exit.
            serving.Wait(TimeSpan.FromSeconds(10));
        }
        cancellationToken.ThrowIfCancellationRequested();
        return 0;
    }

    /// <summary>Command replies share the output with the event lines; one line at a time.</summary>
    private sealed class LockedWriter(TextWriter inner, TextWriter sync) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            lock (sync)
                inner.Write(value);
        }

        public override void WriteLine(string? value)
        {
            lock (sync)
                inner.WriteLine(value);
        }

        public override void Flush()
        {
            lock (sync)
                inner.Flush();
        }
    }
}
