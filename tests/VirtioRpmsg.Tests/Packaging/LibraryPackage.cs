namespace VirtioRpmsg.Tests.Packaging;

/// <summary>The packed VirtioRpmsg package (the library with its native shims: packing needs the ARM64 cross compiler).</summary>
[NeedsArm64CrossCompiler]
public sealed class LibraryPackage() : PackedPackage("VirtioRpmsg");
