namespace VirtioRpmsg.Arm64Smoke;

/// <summary>A failed expectation inside a <see cref="SmokeCheck"/>.</summary>
public sealed class SmokeFailure(string message) : Exception(message);
