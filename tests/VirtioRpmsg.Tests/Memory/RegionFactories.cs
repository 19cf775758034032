using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>One way to make a region of each backing (with and without guard pages), all of the given size.</summary>
public static class RegionFactories
{
    public static readonly IReadOnlyDictionary<string, Func<TestFiles, long, SharedMemoryRegion>> All = new Dictionary<string, Func<TestFiles, long, SharedMemoryRegion>>
    {
        ["anonymous"] = (_, size) => SharedMemoryRegion.CreateAnonymous(size, deviceAddress: 0x1000_0000),
        ["anonymous-guarded"] = (_, size) => SharedMemoryRegion.CreateAnonymous(size, deviceAddress: 0x1000_0000, guardPages: true),
        ["shm-file"] = (files, size) => SharedMemoryRegion.CreateFile(files.ShmPath(), size, deviceAddress: 0x2000_0000),
        ["shm-file-guarded"] = (files, size) => SharedMemoryRegion.CreateFile(files.ShmPath(), size, deviceAddress: 0x2000_0000, guardPages: true),
        ["memfd"] = (_, size) => SharedMemoryRegion.CreateMemFd("vrpmsg-test", size, deviceAddress: 0x3000_0000),
        ["memfd-guarded"] = (_, size) => SharedMemoryRegion.CreateMemFd("vrpmsg-test", size, deviceAddress: 0x3000_0000, guardPages: true),
        ["devmem"] = (files, size) => SharedMemoryRegion.OpenDevMem(0x4000_0000, size, devMemPath: files.CreateFile("fake-mem", 0x4000_0000 + size)),
        ["uio"] = (files, size) =>
        {
            var uio = new FakeUioDevice(files, FakeUioDevice.PageSize + size);
            uio.AddMap(1, "0x50000000", "0x" + size.ToString("X"), "0x0");
            return SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 1, uio.Root, uio.DevicePath);
        },
    };

    public static TheoryData<string> Names => new(All.Keys);
}
