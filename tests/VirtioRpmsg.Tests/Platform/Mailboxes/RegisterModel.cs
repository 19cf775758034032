using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Base of the register-level controller models: an <see cref="IMmioRegisters"/> that logs every
/// access ("R 020:00800000", "W 024:04000000") and hands it to the controller's semantics. A
/// misaligned or out-of-block access fails the test at once, as it would fault on Device memory.
/// </summary>
public abstract class RegisterModel : IMmioRegisters
{
    private readonly List<string> _log = [];

    protected RegisterModel(string name, long size)
    {
        Name = name;
        Size = size;
    }

    public string Name { get; }

    public long Size { get; }

    /// <summary>While true every access reports "unmapped" and nothing happens.</summary>
    public bool Unmapped { get; set; }

    /// <summary>Called before each access reaches the model (tests use it to look at other state at that moment).</summary>
    public Action<string>? OnAccess { get; set; }

    public bool TryRead32(long offset, out uint value)
    {
        Check(offset);
        value = 0;
        if (Unmapped)
            return false;
        value = Read(offset);
        Record($"R {offset:X3}:{value:X8}");
        return true;
    }

    public bool TryWrite32(long offset, uint value)
    {
        Check(offset);
        if (Unmapped)
            return false;
        Record($"W {offset:X3}:{value:X8}");
        Write(offset, value);
        return true;
    }

    /// <summary>Every access since the last call, in order.</summary>
    public List<string> TakeLog()
    {
        var log = new List<string>(_log);
        _log.Clear();
        return log;
    }

    protected abstract uint Read(long offset);

    protected abstract void Write(long offset, uint value);

    /// <summary>A register this model does not define: the driver has no business there.</summary>
    protected Exception Undefined(long offset, string what) =>
        new InvalidOperationException($"{GetType().Name}: {what} of undefined register 0x{offset:X3}.");

    private void Record(string entry)
    {
        OnAccess?.Invoke(entry);
        _log.Add(entry);
    }

    private void Check(long offset)
    {
        if (offset < 0 || offset > Size - 4 || (offset & 3) != 0)
            throw new InvalidOperationException($"{GetType().Name}: access at 0x{offset:X} is not an aligned 32-bit register of the 0x{Size:X}-byte block.");
    }
}
