namespace VirtioRpmsg.Tests.Packaging;

/// <summary>The packed VirtioRpmsg package (the library with its native shims).</summary>
public sealed class LibraryPackage() : PackedPackage("VirtioRpmsg");
