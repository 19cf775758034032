namespace VirtioRpmsg.Tests.Virtio;

/// <summary>An operation and its argument (which segment shape, which held chain, which length...).</summary>
public readonly record struct VirtqueueOp(VirtqueueOpKind Kind, int Arg)
{
    public override string ToString() => $"{Kind}({Arg})";
}
