namespace VirtioRpmsg.Chaos;

/// <summary>The parsers of untrusted bytes, one fuzz target each.</summary>
public enum FuzzTarget
{
    /// <summary>ResourceTable.Parse (the table the firmware or the remote provides).</summary>
    ResourceTable,

    /// <summary>ElfImage.Parse plus reading its resource table (the firmware file).</summary>
    Elf,

    /// <summary>NameServiceMessage.TryParse (announcements from the remote).</summary>
    NameService,

    /// <summary>RpmsgHeader.Read and the host's receive validation (a message the remote wrote).</summary>
    RpmsgHeader,

    /// <summary>VirtqueueDevice.TryTakeAvailable over a ring written by the driver (descriptor chain walk).</summary>
    DescriptorChain,
}
