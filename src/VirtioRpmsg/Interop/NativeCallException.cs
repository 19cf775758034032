namespace VirtioRpmsg.Interop;

/// <summary>
/// A call into the operating system failed. Carries the errno, the operation and the path
/// (or other subject) so that the message names exactly what went wrong.
/// </summary>
public sealed class NativeCallException : IOException
{
    /// <summary>Creates the exception for <paramref name="operation"/> on <paramref name="subject"/> failing with the positive <paramref name="errno"/>; the message includes the error text.</summary>
    public NativeCallException(string operation, string subject, int errno)
        : base($"{operation} '{subject}' failed: {Interop.Errno.Describe(errno)}", unchecked((int)0x80070000 | errno))
    {
        Operation = operation;
        Subject = subject;
        Errno = errno;
    }

    /// <summary>The system call or step that failed, for example "open" or "mmap".</summary>
    public string Operation { get; }

    /// <summary>The path, file descriptor or value the call was made on.</summary>
    public string Subject { get; }

    /// <summary>The positive errno value.</summary>
    public int Errno { get; }

    /// <summary>Throws when <paramref name="result"/> is a negative errno.</summary>
    internal static void ThrowIfError(int result, string operation, string subject)
    {
        if (result < 0)
            Throw(operation, subject, -result);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void Throw(string operation, string subject, int errno) =>
        throw new NativeCallException(operation, subject, errno);
}
