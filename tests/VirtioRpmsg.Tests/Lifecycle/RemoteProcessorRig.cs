using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// What every remote-processor rig holds: a shared-memory file, the host platform over it, a control
/// backend and the processor. Dispose tears them down in that reverse order and deletes the file.
/// </summary>
internal abstract class RemoteProcessorRig<TControl> : IDisposable
    where TControl : IRemoteProcessorControl, IDisposable
{
    protected RemoteProcessorRig(string path, PlatformResources platform, TControl control, RemoteProcessor processor)
    {
        ShmPath = path;
        Platform = platform;
        Control = control;
        Processor = processor;
    }

    public string ShmPath { get; }
    public PlatformResources Platform { get; }
    public TControl Control { get; }
    public RemoteProcessor Processor { get; }

    public void Dispose()
    {
        try
        {
            Processor.Dispose();
            Control.Dispose();
            Platform.Dispose();
        }
        finally
        {
            File.Delete(ShmPath);
        }
    }
}
