using System.Diagnostics.CodeAnalysis;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>Assertions for smoke checks: each throws <see cref="SmokeFailure"/> naming what differed.</summary>
public static class Expect
{
    public static void True([DoesNotReturnIf(false)] bool condition, string what)
    {
        if (!condition)
            throw new SmokeFailure(what);
    }

    public static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new SmokeFailure($"{what}: expected {expected}, got {actual}");
    }

    /// <summary>Runs <paramref name="action"/> and returns the exception of type <typeparamref name="TException"/> (or a subtype) it threw.</summary>
    public static TException Throws<TException>(Action action, string what) where TException : Exception
    {
        try
        {
            action();
        }
        catch (TException e)
        {
            return e;
        }
        catch (Exception e)
        {
            throw new SmokeFailure($"{what}: expected {typeof(TException).Name}, got {e.GetType().Name}: {e.Message}");
        }
        throw new SmokeFailure($"{what}: expected {typeof(TException).Name}, nothing was thrown");
    }
}
