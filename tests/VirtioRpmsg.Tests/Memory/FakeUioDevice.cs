namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// A fake UIO device: a sysfs-like tree <c>{Root}/uio0/maps/mapN/{addr,size,offset,name}</c> plus a
/// regular file standing in for /dev/uio0, in which map N lives at file offset N * page size, as the
/// kernel's uio_mmap selects it.
/// </summary>
public sealed class FakeUioDevice
{
    public const string Name = "uio0";

    public FakeUioDevice(TestFiles files, long deviceFileLength)
    {
        // Unique per instance, so that several fake devices can share one scratch directory.
        string id = Guid.NewGuid().ToString("N");
        Root = files.PathOf("sys-class-uio-" + id);
        Directory.CreateDirectory(Path.Combine(Root, Name));
        DevicePath = files.CreateFile("dev-uio0-" + id, deviceFileLength);
    }

    /// <summary>Stands in for /sys/class/uio.</summary>
    public string Root { get; }

    /// <summary>Stands in for /dev/uio0.</summary>
    public string DevicePath { get; }

    public static long PageSize => Environment.SystemPageSize;

    /// <summary>Directory of map <paramref name="index"/>.</summary>
    public string MapDirectory(int index) => Path.Combine(Root, Name, "maps", "map" + index);

    /// <summary>Writes the attribute files of map <paramref name="index"/> verbatim (null: file left out).</summary>
    public string AddMap(int index, string? addr, string? size, string? offset)
    {
        string dir = MapDirectory(index);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "name"), "shm\n");
        if (addr is not null)
            File.WriteAllText(Path.Combine(dir, "addr"), addr + "\n");
        if (size is not null)
            File.WriteAllText(Path.Combine(dir, "size"), size + "\n");
        if (offset is not null)
            File.WriteAllText(Path.Combine(dir, "offset"), offset + "\n");
        return dir;
    }
}
