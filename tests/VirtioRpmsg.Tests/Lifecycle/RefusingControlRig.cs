using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// The in-process simulated remote behind a control that can refuse stop and detach the way the kernel does
/// (EBUSY from the remoteproc state attribute), and a processor with the echo driver over both.
/// </summary>
internal sealed class RefusingControlRig : RemoteProcessorRig<RefusingControlRig.RefusingControl>
{
    private RefusingControlRig(string path, PlatformResources platform, RefusingControl control, RemoteProcessor processor)
        : base(path, platform, control, processor)
    {
    }

    public static RefusingControlRig Create()
    {
        string path = SimulatedRemoteRig.NewShmPath();
        var description = SimulatedRemoteRig.Description(path);
        var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
        var control = new RefusingControl(new InProcessSimulatedControl(description));
        var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
        {
            DeviceOptions = new RpmsgDeviceOptions { Name = "rproc-host", SendTimeout = SimulatedRemoteRig.Bound },
        });
        processor.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName));
        return new RefusingControlRig(path, platform, control, processor);
    }

    /// <summary>Refuses Stop and Detach while <see cref="Refuse"/> is set; otherwise the simulated remote's own control.</summary>
    internal sealed class RefusingControl(InProcessSimulatedControl inner) : IRemoteProcessorControl, IRemoteDoorbellProvider, IDisposable
    {
        public volatile bool Refuse;

        public string Name => inner.Name;
        public string? FirmwareName { get => inner.FirmwareName; set => inner.FirmwareName = value; }
        public RemoteControlState State => inner.State;
        public bool CanInjectCrash => inner.CanInjectCrash;
        public void Start() => inner.Start();
        public void Attach() => inner.Attach();
        public void InjectCrash() => inner.InjectCrash();
        public IDoorbell CreateHostDoorbell() => inner.CreateHostDoorbell();

        public void Stop()
        {
            ThrowIfRefused("stop");
            inner.Stop();
        }

        public void Detach()
        {
            ThrowIfRefused("detach");
            inner.Detach();
        }

        public void Dispose() => inner.Dispose();

        private void ThrowIfRefused(string command)
        {
            if (Refuse)
                throw new RemoteProcessorControlException("remoteproc0", "/sys/class/remoteproc/remoteproc0/state", "state", command, VirtioRpmsg.Interop.Errno.EBUSY, "running");
        }
    }
}
