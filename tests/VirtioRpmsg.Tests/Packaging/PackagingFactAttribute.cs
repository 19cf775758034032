using Xunit.Abstractions;
using Xunit.Sdk;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Marks a <see cref="PackedPackage"/> that needs the ARM64 cross compiler to be packed (<see cref="LibraryPackage"/>):
/// the <see cref="PackagingFactAttribute"/> and <see cref="PackagingTheoryAttribute"/> tests of a class using it as
/// class fixture, inherited ones included, are skipped with <see cref="Arm64CrossCompiler.SkipReason"/> when the
/// compiler is missing outside CI, and the fixture does not try to pack.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class NeedsArm64CrossCompilerAttribute : Attribute;

/// <summary>A fact of a packaging test: skipped at discovery, with the reason, when its class cannot be packed here.</summary>
[XunitTestCaseDiscoverer("VirtioRpmsg.Tests.Packaging.PackagingFactDiscoverer", "VirtioRpmsg.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class PackagingFactAttribute : FactAttribute;

/// <summary>A theory of a packaging test: each data row skipped, with the reason, when its class cannot be packed here.</summary>
[XunitTestCaseDiscoverer("VirtioRpmsg.Tests.Packaging.PackagingTheoryDiscoverer", "VirtioRpmsg.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class PackagingTheoryAttribute : TheoryAttribute;

internal static class PackagingSkip
{
    /// <summary>
    /// The skip reason for a test of this class, from the package it uses as class fixture (the class is known only
    /// here: the base class's tests run once per package).
    /// </summary>
    public static string? For(ITestMethod testMethod) =>
        testMethod.TestClass.Class.ToRuntimeType().GetInterfaces().Any(NeedsArm64CrossCompiler) ? Arm64CrossCompiler.SkipReason : null;

    private static bool NeedsArm64CrossCompiler(Type fixture) =>
        fixture.IsGenericType && fixture.GetGenericTypeDefinition() == typeof(IClassFixture<>)
        && fixture.GetGenericArguments()[0].IsDefined(typeof(NeedsArm64CrossCompilerAttribute), inherit: false);
}

public sealed class PackagingFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        PackagingSkip.For(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(discoveryOptions, testMethod, factAttribute);
}

public sealed class PackagingTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    protected override IEnumerable<IXunitTestCase> CreateTestCasesForDataRow(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute, object[] dataRow) =>
        PackagingSkip.For(testMethod) is { } reason
            ? CreateTestCasesForSkippedDataRow(discoveryOptions, testMethod, theoryAttribute, dataRow, reason)
            : base.CreateTestCasesForDataRow(discoveryOptions, testMethod, theoryAttribute, dataRow);

    protected override IEnumerable<IXunitTestCase> CreateTestCasesForTheory(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        PackagingSkip.For(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.CreateTestCasesForTheory(discoveryOptions, testMethod, theoryAttribute);
}
