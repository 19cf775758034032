using System.Diagnostics.CodeAnalysis;
using System.Buffers;
using System.Runtime.CompilerServices;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A tx buffer taken for zero-copy send: fill <see cref="Span"/>, then <see cref="Send"/> (or
/// <see cref="SendTo"/>) the first N bytes; disposing an unsent buffer gives it back. It holds a
/// mapping lease, so fill it promptly and never block while you have it.
/// </summary>
/// <remarks>
/// On Device memory (<see cref="SharedMemoryType.Device"/>) <see cref="Span"/> is a private staging buffer,
/// copied into the shared buffer with aligned stores on send: application code may fill a span with any
/// instruction (unaligned SIMD, <c>dc zva</c>), which Device memory does not allow. One copy, still no allocation.
/// </remarks>
public ref struct RpmsgTxBuffer
{
    private MappingLease _lease;
    private readonly RpmsgEndpoint? _endpoint;
    private readonly int _id;
    private readonly long _offset;
    private readonly int _capacity;
    private byte[]? _staging; // Device memory only
    private bool _done;

    internal RpmsgTxBuffer(RpmsgEndpoint endpoint, RpmsgBufferRef buffer)
    {
        _endpoint = endpoint;
        _id = buffer.Id;
        _offset = buffer.Offset;
        _capacity = buffer.Length - RpmsgHeader.Size;
        var device = endpoint.Device;
        if (!device.ZeroCopy.TryEnter())
        {
            // Stopped since the take: a fresh device over these rings may hand this buffer out again.
            device.Tx.Cancel(buffer.Id);
            device.ThrowIfUnavailable();
            throw new RpmsgDeviceUnavailableException(device.Name, device.State, "stopped");
        }
        try
        {
            _lease = buffer.Region.Acquire();
        }
        catch (Exception e)
        {
            // Unmapped, or this thread holds too many leases: the buffer goes back either way, or it is lost for good.
            device.ZeroCopy.Exit();
            device.Tx.Cancel(buffer.Id);
            if (e is RegionClosedException closed)
                throw device.Gate.Translate(closed);
            throw;
        }
        _done = false;
        if (_lease.IsDeviceMemory)
            _staging = ArrayPool<byte>.Shared.Rent(_capacity);
    }

    /// <summary>True if this holds a buffer (false for a default instance).</summary>
    public readonly bool IsValid => _endpoint is not null && !_done;

    /// <summary>Payload capacity in bytes.</summary>
    public readonly int Capacity => _capacity;

    /// <summary>
    /// The payload area: in shared memory, or a staging buffer when the memory is Device memory. The
    /// compiler keeps the span inside the scope of this buffer variable; after Send or Dispose (of this
    /// buffer or a copy) the property throws. A span taken before <see cref="Send"/>, <see cref="SendTo"/> or
    /// <see cref="Dispose"/> must not be used after it: each ends the lease that keeps the memory mapped, and a
    /// stop may then unmap it.
    /// </summary>
    [UnscopedRef]
    public readonly Span<byte> Span => _staging is { } staging
        ? (_lease.IsActive ? staging.AsSpan(0, _capacity) : throw new ObjectDisposedException(nameof(RpmsgTxBuffer), "The tx buffer was already sent or disposed."))
        : _lease.GetSpan(_offset + RpmsgHeader.Size, _capacity);

    /// <summary>
    /// Sends the first <paramref name="length"/> bytes to the endpoint's remote address. A negative
    /// <paramref name="length"/> throws <see cref="ArgumentOutOfRangeException"/>, one above <see cref="Capacity"/>
    /// <see cref="RpmsgPayloadTooLargeException"/> (the buffer is still held: dispose it); a destroyed endpoint gives the
    /// buffer back and throws <see cref="ObjectDisposedException"/> (<see cref="RpmsgDeviceUnavailableException"/> when
    /// the device stopped or broke). <see cref="InvalidOperationException"/> when the endpoint's remote address is not
    /// known yet (the buffer is still held) or the buffer was already sent or given back.
    /// </summary>
    public void Send(int length)
    {
        RefuseIfDestroyed(); // the destroy, not a complaint about the remote address it no longer needs
        SendTo(Endpoint.RemoteAddressOrThrow(), length);
    }

    /// <summary>
    /// Sends the first <paramref name="length"/> bytes to <paramref name="destination"/>; refusals as for <see cref="Send"/>,
    /// and <see cref="RpmsgAddress.Any"/> as the destination throws <see cref="ArgumentOutOfRangeException"/> (the buffer is still held).
    /// </summary>
    public void SendTo(uint destination, int length)
    {
        var endpoint = Endpoint;
        if ((uint)length > (uint)_capacity)
            ThrowBadLength(length, _capacity);
        RefuseIfDestroyed();
        if (destination == RpmsgAddress.Any)
            RpmsgAddress.ThrowAny(nameof(destination)); // the buffer is still held, as for a bad length
        Span<byte> header = stackalloc byte[RpmsgHeader.Size];
        new RpmsgHeader(endpoint.Address, destination, 0, (ushort)length, 0).Write(header);
        _lease.WriteBytes(_offset, header);
        if (_staging is not null)
            _lease.WriteBytes(_offset + RpmsgHeader.Size, _staging.AsSpan(0, length));
        ReturnStaging();
        _lease.Dispose();
        _done = true;
        endpoint.Device.ZeroCopy.Exit();
        endpoint.Device.Tx.ApplicationChecked();
        // Destroyed since the check above: its address may already be another endpoint's (the buffer went back unsent).
        if (!endpoint.Device.Tx.Submit(_id, RpmsgHeader.Size + length, endpoint))
            throw endpoint.SendRefusal();
    }

    // A destroyed endpoint's address may already be another endpoint's. The buffer goes back (and the lease ends), as
    // a send refused by a stopped device gives it back.
    private void RefuseIfDestroyed()
    {
        var endpoint = Endpoint;
        if (!endpoint.IsDestroyed)
            return;
        Dispose();
        throw endpoint.SendRefusal();
    }

    // Out of line: the wording would otherwise be built in every send's frame. A negative length is a bad argument, not a payload too large.
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadLength(int length, int capacity)
    {
        if (length < 0)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length {length} is negative; send 0 to {capacity} bytes of the tx buffer");
        throw new RpmsgPayloadTooLargeException(length, capacity, nameof(length));
    }

    private readonly RpmsgEndpoint Endpoint
    {
        get
        {
            if (_endpoint is null || _done)
                throw new InvalidOperationException("This tx buffer was already sent or released.");
            return _endpoint;
        }
    }

    /// <summary>Gives an unsent buffer back.</summary>
    public void Dispose()
    {
        if (_endpoint is null || _done)
            return;
        _done = true;
        // The lease first: on a copy of a buffer already sent or disposed it throws, before the staging array could go
        // back to the pool a second time (two renters would then share it).
        _lease.Dispose();
        ReturnStaging();
        _endpoint.Device.ZeroCopy.Exit();
        _endpoint.Device.Tx.Cancel(_id);
    }

    private void ReturnStaging()
    {
        if (_staging is { } staging)
        {
            _staging = null;
            ArrayPool<byte>.Shared.Return(staging);
        }
    }
}
