namespace VirtioRpmsg.Lifecycle;

/// <summary>A vring address: like <see cref="JsonHexConverter"/>, plus "ADDR_ANY" (the host chooses).</summary>
internal sealed class JsonVringAddressConverter : JsonHexConverter
{
    protected override bool AllowAddrAny => true;
}
