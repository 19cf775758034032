using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// One guest's vhost-user connection, served as an rpmsg device (virtio id 7) in the remote role: it answers
/// the front-end's requests, maps guest memory, checks the rings, and once both queues are fully set up
/// creates a fresh <see cref="RpmsgDevice"/> over them (no resource table: the rings come from
/// SET_VRING_ADDR, the features from SET_FEATURES, readiness from the first kick). Any protocol violation
/// is one <see cref="Fault"/>: a REPLY_ACK failure status if one was asked for, then the device is stopped,
/// guest memory unmapped and the connection closed. Single-threaded: <see cref="Run"/> is the only caller.
/// </summary>
internal sealed partial class VhostUserRpmsgBackend : IDisposable
{
    private const int QueueCount = 2;
    private const ulong RpmsgFeatureMask = 0xFFFF_FFFFUL & ~VhostUserFeatures.ProtocolFeatures;

    private readonly VhostUserConnection _connection;
    private readonly VhostUserRpmsgOptions _options;
    private readonly VhostUserVring[] _vrings = [new(0), new(1)];
    private readonly FileDescriptor?[] _errors = new FileDescriptor?[QueueCount];
    private readonly ulong _offered;
    private VhostUserGuestMemory? _memory;
    private FileDescriptor? _slaveRequests;
    private ulong? _accepted;
    private ulong _protocol;
    private RpmsgDevice? _device;
    private RpmsgDevice? _previous; // torn down: its zero-copy buffers may still be open
    private VhostUserDoorbell? _doorbell;
    private (string Name, uint Address)[] _announced = []; // what the guest's driver may still have from the devices so far

    internal VhostUserRpmsgBackend(FileDescriptor socket, VhostUserRpmsgOptions options, string name)
    {
        _options = options;
        _connection = new VhostUserConnection(socket, name);
        _offered = VhostUserFeatures.ProtocolFeatures | VhostUserFeatures.Version1
            | (options.Device.NameService ? RpmsgFeatures.NameService : 0)
            | (options.Device.EventIndex ? VirtioFeatures.EventIndex : 0);
    }

    internal string Name => _connection.Name;

    /// <summary>The current device (null until both queues are set up, and after teardown).</summary>
    internal RpmsgDevice? Device => _device;

    /// <summary>Devices created on this connection so far.</summary>
    internal int DevicesCreated { get; private set; }

    /// <summary>Why the connection ended (set by <see cref="Run"/>).</summary>
    internal string EndReason { get; private set; } = "running";

    /// <summary>Serves requests until the front-end closes the connection (null) or breaks the protocol (its fault).</summary>
    internal Fault? Run(CancellationToken cancellationToken)
    {
        VhostUserMessage? current = null;
        try
        {
            while (true)
            {
                using var message = _connection.Receive(cancellationToken);
                if (message is null)
                {
                    EndReason = "the guest closed the connection";
                    return null;
                }
                current = message;
                Handle(message);
                current = null;
            }
        }
        catch (VhostUserProtocolException e)
        {
            return Refuse(e.Fault, current);
        }
        catch (EndOfStreamException e)
        {
            EndReason = e.Message;
            return null;
        }
        catch (Exception e) when (e is IOException or TimeoutException)
        {
            // The socket failed (the guest hung up or reset it), or something took too long (a reply never read, leases or
            // zero-copy buffers that outlived their drain): this connection ends; the server goes on to the next guest.
            EndReason = e is TimeoutException ? e.Message : "the connection failed: " + e.Message;
            _options.Logger.LogWarning("vhost-user {Name}: {Reason}", Name, EndReason);
            return null;
        }
        finally
        {
            TearDown(EndReason);
        }
    }

    private Fault Refuse(Fault fault, VhostUserMessage? message)
    {
        EndReason = "protocol fault: " + fault.Message;
        _options.Logger.LogWarning("vhost-user {Name}: {Fault}; closing the connection", Name, fault.Message);
        if (message is not null && message.Header.NeedsReply && (_protocol & VhostUserFeatures.ReplyAck) != 0)
        {
            try
            {
                ReplyU64(message.Header.Request, 1);
            }
            catch (Exception e) when (e is IOException or TimeoutException)
            {
                // The front-end may be gone already; the connection closes either way.
            }
        }
        return fault;
    }

    private void Handle(VhostUserMessage message)
    {
        var request = message.Request;
        var payload = message.Payload;
        if (request is not (VhostUserRequest.SetMemTable or VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall
            or VhostUserRequest.SetVringErr or VhostUserRequest.SetSlaveReqFd))
            message.RequireDescriptors(0);
        bool replied = false;
        switch (request)
        {
            case VhostUserRequest.GetFeatures:
                VhostUserPayload.RequireEmpty(request, payload);
                ReplyU64(message.Header.Request, _offered);
                replied = true;
                break;
            case VhostUserRequest.SetFeatures:
                SetFeatures(VhostUserPayload.ReadU64(request, payload));
                break;
            case VhostUserRequest.SetOwner:
                VhostUserPayload.RequireEmpty(request, payload);
                break;
            case VhostUserRequest.ResetOwner:
                VhostUserPayload.RequireEmpty(request, payload);
                Reset();
                break;
            case VhostUserRequest.GetProtocolFeatures:
                VhostUserPayload.RequireEmpty(request, payload);
                ReplyU64(message.Header.Request, VhostUserFeatures.OfferedProtocolFeatures);
                replied = true;
                break;
            case VhostUserRequest.SetProtocolFeatures:
                _protocol = VhostUserFeatures.CheckOffered(request, VhostUserPayload.ReadU64(request, payload), VhostUserFeatures.OfferedProtocolFeatures);
                break;
            case VhostUserRequest.GetQueueNum:
                VhostUserPayload.RequireEmpty(request, payload);
                ReplyU64(message.Header.Request, QueueCount);
                replied = true;
                break;
            case VhostUserRequest.SetMemTable:
                var table = VhostUserPayload.ReadMemoryTable(payload);
                TearDown("the guest sent a new memory table");
                _memory?.Dispose();
                _memory = null; // a table that cannot be mapped leaves none
                _memory = VhostUserGuestMemory.MapTable(table, message, Name);
                break;
            case VhostUserRequest.SetVringNum:
                var num = VhostUserPayload.ReadVringState(request, payload);
                TearDownFor(request, Vring(request, num.Index)).SetNum(num.Number);
                break;
            case VhostUserRequest.SetVringBase:
                var state = VhostUserPayload.ReadVringState(request, payload);
                TearDownFor(request, Vring(request, state.Index)).SetBase(state.Number);
                break;
            case VhostUserRequest.GetVringBase:
                // Stops the ring (and with it the device, which needs both) and reports where the device got to.
                var stop = VhostUserPayload.ReadVringState(request, payload);
                var stopped = Vring(request, stop.Index);
                TearDown($"the guest stopped queue {stop.Index} (GET_VRING_BASE)");
                stopped.Stop();
                // The reply is a vring state (index u32, num u32): as one little-endian u64, the index is the low half.
                ReplyU64(message.Header.Request, stop.Index | ((ulong)stopped.Base << 32));
                replied = true;
                break;
            case VhostUserRequest.SetVringAddr:
                var address = VhostUserPayload.ReadVringAddress(payload);
                TearDownFor(request, Vring(request, address.Index)).SetAddress(address, _memory);
                break;
            case VhostUserRequest.SetVringKick:
                var kick = TearDownFor(request, Vring(request, VhostUserPayload.ReadVringDescriptor(request, payload), message));
                kick.SetKick(message.TakeKick(kick.Index));
                // Without protocol features a ring starts with its kick descriptor; with them it waits for SET_VRING_ENABLE.
                if (_accepted is ulong agreed && (agreed & VhostUserFeatures.ProtocolFeatures) == 0)
                    kick.Enabled = true;
                break;
            case VhostUserRequest.SetVringCall:
                // A live device keeps running (QEMU switches calls after enabling the rings and whenever the guest masks or unmasks
                // a vector); one spurious interrupt covers a ring that wrote the old descriptor as it was switched.
                var call = Vring(request, VhostUserPayload.ReadVringDescriptor(request, payload), message);
                var callFd = message.TakeNonBlocking(call.Index);
                _doorbell?.ReplaceCall(call.Index, callFd);
                call.SetCall(callFd);
                _doorbell?.Ring();
                break;
            case VhostUserRequest.SetVringErr:
                var (errIndex, noErrFd) = VhostUserPayload.ReadVringDescriptor(request, payload);
                Vring(request, errIndex);
                message.RequireDescriptors(noErrFd ? 0 : 1);
                _errors[errIndex]?.Dispose();
                _errors[errIndex] = noErrFd ? null : message.TakeDescriptor(0);
                break;
            case VhostUserRequest.SetVringEnable:
                var enable = VhostUserPayload.ReadVringState(request, payload);
                var vring = Vring(request, enable.Index);
                if (enable.Number > 1)
                    throw new VhostUserProtocolException(FaultRule.VhostUserVringSize, $"vring[{enable.Index}].enable", enable.Number,
                        $"vhost-user SET_VRING_ENABLE: queue {enable.Index} value {enable.Number} is neither 0 nor 1");
                if (enable.Number == 0)
                    TearDown($"the guest disabled queue {enable.Index}");
                vring.Enabled = enable.Number == 1;
                break;
            case VhostUserRequest.SetSlaveReqFd:
                VhostUserPayload.RequireEmpty(request, payload);
                message.RequireDescriptors(1);
                // Kept open for the connection's life (nothing is sent on it: no back-end request is needed).
                _slaveRequests?.Dispose();
                _slaveRequests = message.TakeDescriptor(0);
                break;
            default:
                throw new VhostUserProtocolException(FaultRule.VhostUserUnsupportedRequest, "request", message.Header.Request,
                    $"vhost-user request {message.Header.Request} ({(Enum.IsDefined(request) ? request.ToString() : "unknown")}) is not supported by the rpmsg back-end");
        }
        // The device goes live before the ack: a front-end that got its ack for the last queue set-up may kick at once.
        TryCreateDevice();
        if (!replied && message.Header.NeedsReply && (_protocol & VhostUserFeatures.ReplyAck) != 0)
            ReplyU64(message.Header.Request, 0);
    }

    private void SetFeatures(ulong features)
    {
        _accepted = VhostUserFeatures.CheckOffered(VhostUserRequest.SetFeatures, features, _offered);
        // The device's features cannot change under a live device.
        TearDown("the guest set new features");
        // Without protocol features every ring is enabled (vhost-user "Ring states"): this also covers kick descriptors
        // that arrived before SET_FEATURES, when it was not yet known whether SET_VRING_ENABLE would follow.
        if ((features & VhostUserFeatures.ProtocolFeatures) == 0)
            foreach (var vring in _vrings)
                vring.Enabled = true;
    }

    private VhostUserVring Vring(VhostUserRequest request, uint index)
    {
        if (index >= QueueCount)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringIndex, "index", index,
                $"vhost-user {request}: queue {index} does not exist (an rpmsg device has {QueueCount} queues)");
        return _vrings[index];
    }

    private VhostUserVring Vring(VhostUserRequest request, (uint Index, bool NoDescriptor) target, VhostUserMessage message)
    {
        var vring = Vring(request, target.Index);
        if (target.NoDescriptor)
            throw new VhostUserProtocolException(FaultRule.VhostUserUnsupportedRequest, "u64", target.Index | VhostUserFeatures.VringNoDescriptor,
                $"vhost-user {request}: queue {target.Index} without a descriptor (polling or in-band notifications) is not supported");
        message.RequireDescriptors(1);
        return vring;
    }

    /// <summary>A queue's setup changes: a device using it stops first (recreated, resuming each ring, once they are ready again).</summary>
    private VhostUserVring TearDownFor(VhostUserRequest request, VhostUserVring vring)
    {
        TearDown($"the guest changed queue {vring.Index} ({request})");
        return vring;
    }

    private void ReplyU64(uint request, ulong value)
    {
        Span<byte> payload = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, value);
        _connection.Reply(request, payload);
    }

    /// <summary>Stops and drops the current device (if any): nothing of it touches guest memory after this returns.</summary>
    private void TearDown(string reason)
    {
        var device = _device;
        if (device is null)
            return;
        _device = null;
        // Stopped first: a disabled ring or a dead guest gets no more writes (not even name-service destroys).
        device.Stop(reason);
        // What the driver may still have: this device's announcements and its predecessors' not withdrawn yet (the whole
        // list if it never linked up), one entry per service, bounded (RpmsgDevice.Resume.cs).
        _announced = device.AnnouncedAtStop;
        // Where it got to on each ring (private state, no guest memory read): GET_VRING_BASE reports it.
        if (device.Transport is DeviceRoleTransport transport)
        {
            transport.GiveBackReserved();
            for (int q = 0; q < QueueCount; q++)
                _vrings[q].Processed(transport.NextAvailIndex(q), q == 0 ? transport.TxHeadsInFlight() : transport.RxHeadsInFlight(), device.LinkCameUp);
        }
        try
        {
            _options.DeviceRemoved?.Invoke(device, reason);
        }
        finally
        {
            device.Dispose();
            _previous = device;
            _doorbell?.Dispose();
            _doorbell = null;
        }
    }

    private void Reset()
    {
        TearDown("the guest reset the device (RESET_OWNER)");
        foreach (var vring in _vrings)
            vring.Reset();
        _memory?.Dispose();
        (_memory, _accepted, _announced) = (null, null, []);
        // The protocol features stay: they are the connection's, and the front-end does not negotiate them again (it
        // still waits for a REPLY_ACK status, this request's too; the specification warns that discarding them is a bug).
    }

    /// <summary>Stops the device, unmaps guest memory (waiting for leases), closes every descriptor and the connection.</summary>
    public void Dispose()
    {
        TearDown(EndReason);
        foreach (var vring in _vrings)
            vring.Dispose();
        foreach (var error in _errors)
            error?.Dispose();
        Array.Clear(_errors);
        _slaveRequests?.Dispose();
        try
        {
            _memory?.Dispose();
        }
        catch (TimeoutException e)
        {
            // A lease outlived the drain: that region stays mapped (closed) until it ends; the connection closes anyway.
            _options.Logger.LogError("vhost-user {Name}: {Reason}", Name, e.Message);
        }
        _memory = null;
        _connection.Dispose();
    }
}
