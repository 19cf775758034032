using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The rpmsg vdev layout: vrings and buffer pool. With a resource table, the vring fields may be
/// omitted (the table supplies them); a vring address may be "ADDR_ANY" (0xFFFFFFFF) for the host to choose.
/// </summary>
public sealed record VdevLayoutDescription
{
    /// <summary>Entries per vring when neither table nor description says (OpenAMP's value).</summary>
    public const int DefaultVringNum = 256;
    /// <summary>Vring alignment when neither table nor description says (one page).</summary>
    public const int DefaultVringAlign = 4096;
    /// <summary>Buffers in the pool by default: 256 rx, then 256 tx (as Linux).</summary>
    public const int DefaultBufferCount = 512;
    /// <summary>Bytes per buffer by default, header included (as Linux): 496-byte payloads.</summary>
    public const int DefaultBufferSize = 512;

    /// <summary>Device address of vring 0 (device to driver, the host's rx).</summary>
    [JsonConverter(typeof(JsonVringAddressConverter))]
    public ulong? Vring0Address { get; init; }

    /// <summary>Device address of vring 1 (driver to device, the host's tx).</summary>
    [JsonConverter(typeof(JsonVringAddressConverter))]
    public ulong? Vring1Address { get; init; }

    /// <summary>Entries per vring (power of two, at most 32768); default 256.</summary>
    public int? VringNum { get; init; }

    /// <summary>Vring alignment (power of two); default 4096.</summary>
    public int? VringAlign { get; init; }

    /// <summary>Region the host places ADDR_ANY vrings in; default the resource table's region.</summary>
    public string? VringRegion { get; init; }

    /// <summary>Device address of the buffer pool (required).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? BufferPoolAddress { get; init; }

    /// <summary>Bytes reserved for the pool; must hold bufferCount * bufferSize. Default exactly that.</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? BufferPoolSize { get; init; }

    /// <summary>Buffers in the pool, half rx and half tx; default 512.</summary>
    public int? BufferCount { get; init; }

    /// <summary>Bytes per buffer including the 16-byte rpmsg header; default 512.</summary>
    public int? BufferSize { get; init; }

    /// <summary>
    /// The features the remote offers (the vdev's dfeatures in the resource table it writes): a subset of
    /// <see cref="SupportedFeatures"/>; default <see cref="DefaultFeatures"/> (NS only, as OpenAMP's table).
    /// A host reads the remote's offer from the table and ignores this field, so one file serves both roles.
    /// </summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? Features { get; init; }

    /// <summary>What a remote offers when <see cref="Features"/> is absent: NS only (OpenAMP's rsc_table).</summary>
    public const uint DefaultFeatures = Rpmsg.RpmsgFeatures.NameService;

    /// <summary>The feature bits this stack implements as a device, and so may offer: NS and EVENT_IDX.</summary>
    public const uint SupportedFeatures = Rpmsg.RpmsgFeatures.NameService | Virtio.VirtioFeatures.EventIndex;

    /// <summary>The features a remote with this layout offers: <see cref="Features"/>, else <see cref="DefaultFeatures"/>.</summary>
    [JsonIgnore]
    public uint EffectiveFeatures => Features is { } f ? (uint)f : DefaultFeatures;
}
