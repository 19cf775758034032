using System.Globalization;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// A host platform over a /dev/shm/vrpmsg-test-* file (simulated default layout), a
/// <see cref="SimulatedRemoteProcess"/> whose remote is a child process, and a <see cref="RemoteProcessor"/>
/// watching the control's crash watchdog. Dispose tears all of it down (the child included) and deletes the file.
/// </summary>
internal sealed class SimulatedProcessRig : RemoteProcessorRig<SimulatedRemoteProcess>
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private SimulatedProcessRig(string path, PlatformResources platform, SimulatedRemoteProcess control, RemoteProcessor processor)
        : base(path, platform, control, processor)
    {
    }

    public static SimulatedProcessRig Create(RemoteRecoveryMode mode = RemoteRecoveryMode.Boot, bool autoRecover = false, SimulatedCrashMethod crash = SimulatedCrashMethod.Kill)
    {
        string path = "/dev/shm/vrpmsg-test-proc-" + Guid.NewGuid().ToString("N") + ".shm";
        PlatformResources? platform = null;
        SimulatedRemoteProcess? control = null;
        try
        {
            var description = SimulatedPlatform.Description(path);
            platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            control = new SimulatedRemoteProcess(description, new SimulatedRemoteProcessOptions { RemoteCommand = RemoteCommands.Cli, CrashMethod = crash, StartTimeout = Bound });
            var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                RecoveryMode = mode,
                AutoRecover = autoRecover,
                // No WatchdogDoorbell: the processor takes the control's crash signal by itself.
                BootTimeout = Bound,
                DeviceOptions = new RpmsgDeviceOptions { Name = "rproc-host", SendTimeout = Bound },
            });
            processor.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName));
            return new SimulatedProcessRig(path, platform, control, processor);
        }
        catch
        {
            control?.Dispose();
            platform?.Dispose();
            File.Delete(path);
            throw;
        }
    }

    public void Echo(int value) => SimulatedRemoteRig.EchoRoundTrip(Processor, value, SimulatedRemote.EchoServiceName);

    /// <summary>Live processes (children or not) whose command line names this rig's shared file: the remotes it spawned.</summary>
    public IReadOnlyList<int> LiveRemotes()
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                continue;
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains(ShmPath, StringComparison.Ordinal) && !IsZombie(dir))
                    found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process went away while being looked at.
            }
        }
        return found;
    }

    /// <summary>The parent pid in /proc/PID/stat (the field after the parenthesised command name).</summary>
    public static int ParentOf(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[1], CultureInfo.InvariantCulture);
    }

    private static bool IsZombie(string dir)
    {
        string stat = File.ReadAllText(Path.Combine(dir, "stat"));
        return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
    }
}
