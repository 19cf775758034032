namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// A K3 mailbox cluster (16 FIFOs of 4 words, 4 interrupt users), with the peer played by the test.
/// A word written to a full FIFO is dropped (counted as lost). Each word raises FIFO m's new-message
/// status (bit 2m) for every user; IRQSTATUS_CLR clears status bits (W1C), but a FIFO that still holds
/// words raises its bit again at once, so clearing before draining leaves the line up. User u's line
/// is status AND enable.
/// </summary>
public sealed class TiMailboxModel() : RegisterModel("k3-mailbox", 0x200)
{
    private const int Fifos = 16, Users = 4, Depth = 4;
    private readonly Queue<uint>[] _fifos = Enumerable.Range(0, Fifos).Select(_ => new Queue<uint>()).ToArray();
    private readonly uint[] _status = new uint[Users];
    private readonly uint[] _enable = new uint[Users];

    /// <summary>Words written to a full FIFO (dropped by the hardware).</summary>
    public int Lost { get; private set; }

    /// <summary>Reads of an empty FIFO's MESSAGE register.</summary>
    public int EmptyReads { get; private set; }

    public bool InterruptLine(int user) => (_status[user] & _enable[user]) != 0;

    public int Queued(int fifo) => _fifos[fifo].Count;

    public uint Enabled(int user) => _enable[user];

    /// <summary>The peer writes FIFO <paramref name="fifo"/>; false when it was full (the word is lost).</summary>
    public bool PeerSend(int fifo, uint word) => Put(fifo, word);

    /// <summary>The peer reads FIFO <paramref name="fifo"/>; null when empty.</summary>
    public uint? PeerReceive(int fifo) => _fifos[fifo].TryDequeue(out uint word) ? word : null;

    private bool Put(int fifo, uint word)
    {
        if (_fifos[fifo].Count == Depth)
        {
            Lost++;
            return false;
        }
        _fifos[fifo].Enqueue(word);
        for (int u = 0; u < Users; u++)
            _status[u] |= 1u << (2 * fifo);
        return true;
    }

    protected override uint Read(long offset)
    {
        switch (offset)
        {
            case 0x000:
                return 0x6600_0100; // REVISION
            case >= 0x040 and < 0x080:
                if (_fifos[(int)(offset - 0x40) / 4].TryDequeue(out uint word))
                    return word;
                EmptyReads++;
                return 0;
            case >= 0x080 and < 0x0C0:
                return _fifos[(int)(offset - 0x80) / 4].Count == Depth ? 1u : 0u;
            case >= 0x0C0 and < 0x100:
                return (uint)_fifos[(int)(offset - 0xC0) / 4].Count;
            case >= 0x100 and < 0x140:
                int u = (int)(offset - 0x100) / 0x10;
                return (offset & 0xF) switch
                {
                    0x0 => _status[u],
                    0x4 => _status[u] & _enable[u],
                    _ => _enable[u],
                };
            default:
                throw Undefined(offset, "read");
        }
    }

    protected override void Write(long offset, uint value)
    {
        switch (offset)
        {
            case >= 0x040 and < 0x080:
                Put((int)(offset - 0x40) / 4, value);
                return;
            case >= 0x100 and < 0x140 when (offset & 0xF) != 0:
                int u = (int)(offset - 0x100) / 0x10;
                switch (offset & 0xF)
                {
                    case 0x4:
                        _status[u] &= ~value;
                        for (int m = 0; m < Fifos; m++)
                            if (_fifos[m].Count > 0)
                                _status[u] |= 1u << (2 * m);
                        return;
                    case 0x8:
                        _enable[u] |= value;
                        return;
                    default:
                        _enable[u] &= ~value;
                        return;
                }
            default:
                throw Undefined(offset, "write");
        }
    }
}
