using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Aeterna.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Protocol;

/// <summary>
/// Frames over a Unix stream socket, with file descriptors attached (SCM_RIGHTS). One sender and
/// one receiver may use it at the same time.
/// </summary>
/// <remarks>
/// <para>System.Net.Sockets can neither send nor receive fds, so bytes move with sendmsg/recvmsg
/// on the socket's fd (non-blocking); the <see cref="Socket"/> is used only to wait, through the
/// runtime's epoll, until the fd is readable (a zero-byte receive) or writable (a send).</para>
/// <para>Every read goes through recvmsg, because a plain read would drop the fds that come with
/// the bytes. The kernel delivers a frame's fds with its first byte, and one recvmsg returns the
/// fds of at most one sendmsg and stops right after the bytes that carried them, so the fds of one
/// recvmsg are one frame's: they queue up as deliveries, and each frame with fds takes the next.</para>
/// <para>With an <see cref="FdBudget"/> (an importer near its fd limit) each recvmsg has room for
/// no more fds than are left; a CONNECTIONS frame may then come with fewer fds than it announces,
/// and the records whose fd was dropped are refused. Anywhere else a cut delivery breaks the
/// stream.</para>
/// <para>A header is checked (magic, version, type, fd count, length against
/// <see cref="MaxPayload"/>) before a byte of its payload is read or allocated; a payload is
/// checked against the frame's CRC-32C before it is used.</para>
/// </remarks>
internal sealed class FrameChannel : IDisposable
{
    /// <summary>Default limit for a payload: 1 MiB, the size of a state chunk.</summary>
    public const int DefaultMaxPayload = 1 << 20;

    private const int BufferSize = 64 * 1024;

    private readonly Socket _socket;
    private readonly int _fd;
    private readonly byte[] _buffer = new byte[BufferSize];
    private readonly byte[] _headerOut = new byte[FrameHeader.Size];
    private readonly Queue<FdDelivery> _arrivedFds = new();
    private readonly List<int> _received = [];
    private readonly SemaphoreSlim _sending = new(1, 1);
    private int _start, _end;
    private bool _disposed;

    public FrameChannel(Socket socket, int maxPayload = DefaultMaxPayload)
    {
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        MaxPayload = maxPayload;
    }

    /// <summary>A channel over a socket fd received from another process.</summary>
    public static FrameChannel FromHandle(SafeFileHandle handle, int maxPayload = DefaultMaxPayload)
    {
        var socket = new Socket(new SafeSocketHandle(handle.DangerousGetHandle(), ownsHandle: true));
        handle.SetHandleAsInvalid(); // the socket owns it now
        return new FrameChannel(socket, maxPayload);
    }

    /// <summary>A connected pair (close-on-exec), e.g. for one state transfer between two generations.</summary>
    public static (SafeFileHandle, SafeFileHandle) CreatePair()
    {
        var (a, b) = Libc.StreamSocketPair();
        return (new SafeFileHandle(a, ownsHandle: true), new SafeFileHandle(b, ownsHandle: true));
    }

    /// <summary>The largest payload this side accepts; larger frames are refused before they are read.</summary>
    public int MaxPayload { get; set; }

    public Socket Socket => _socket;

    /// <summary>
    /// How many more fds this side will take (null: up to 64 per frame, none dropped). Each
    /// receive has room for at most this many; what arrives is subtracted.
    /// </summary>
    public int? FdBudget { get; set; }

    // ---- sending -------------------------------------------------------------------------

    /// <summary>Sends one frame; <paramref name="fds"/> travel with its first byte.</summary>
    public async Task SendAsync(FrameType type, ReadOnlyMemory<byte> payload, IReadOnlyList<SafeHandle>? fds = null, CancellationToken cancel = default)
    {
        int fdCount = fds?.Count ?? 0;
        if (fdCount > FrameHeader.MaxFds) throw new ArgumentException($"at most {FrameHeader.MaxFds} fds per frame", nameof(fds));
        await _sending.WaitAsync(cancel).ConfigureAwait(false);
        var refs = new List<SafeHandle>(fdCount);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            FrameHeader.Write(_headerOut, type, fdCount, payload.Span);
            var raw = new int[fdCount];
            for (int i = 0; i < fdCount; i++)
            {
                bool added = false;
                fds![i].DangerousAddRef(ref added);
                refs.Add(fds[i]);
                raw[i] = (int)fds[i].DangerousGetHandle();
            }
            long sent;
            while (true)
            {
                sent = Libc.Send(_fd, _headerOut, payload.Span, raw);
                if (sent >= 0) break;
                if (sent != -Libc.EAGAIN) throw SendFailed(type, (int)-sent);
                await WaitWritableAsync(cancel).ConfigureAwait(false);
            }
            // The fds went with the first byte; the rest is plain bytes.
            long total = FrameHeader.Size + payload.Length;
            if (sent < FrameHeader.Size)
            {
                await SendAllAsync(_headerOut.AsMemory((int)sent), type, cancel).ConfigureAwait(false);
                sent = FrameHeader.Size;
            }
            if (sent < total)
                await SendAllAsync(payload[(int)(sent - FrameHeader.Size)..], type, cancel).ConfigureAwait(false);
        }
        finally
        {
            foreach (var handle in refs) handle.DangerousRelease();
            _sending.Release();
        }
    }

    /// <summary>Sends one frame whose payload is <paramref name="message"/> as JSON.</summary>
    public Task SendAsync<T>(FrameType type, T message, JsonTypeInfo<T> json, IReadOnlyList<SafeHandle>? fds = null, CancellationToken cancel = default) =>
        SendAsync(type, JsonSerializer.SerializeToUtf8Bytes(message, json), fds, cancel);

    private async Task SendAllAsync(ReadOnlyMemory<byte> bytes, FrameType type, CancellationToken cancel)
    {
        try
        {
            while (!bytes.IsEmpty)
                bytes = bytes[await _socket.SendAsync(bytes, SocketFlags.None, cancel).ConfigureAwait(false)..];
        }
        catch (SocketException e)
        {
            throw new ProtocolException(ProtocolError.Closed, $"sending a {type} frame failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Waits until the socket can take more bytes. Sockets have no async "writable" wait, and a
    /// full send buffer only happens while the peer is busy reading a large transfer; a short poll
    /// is enough.
    /// </summary>
    private async Task WaitWritableAsync(CancellationToken cancel)
    {
        while (!_socket.Poll(TimeSpan.FromMilliseconds(5), SelectMode.SelectWrite))
        {
            cancel.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }

    private static ProtocolException SendFailed(FrameType type, int errno) =>
        new(ProtocolError.Closed, $"sending a {type} frame failed: {Libc.ErrorText(errno)}");

    // ---- receiving -----------------------------------------------------------------------

    /// <summary>Receives one whole frame (payload copied out, fds owned by the frame).</summary>
    public async Task<Frame> ReceiveAsync(CancellationToken cancel = default)
    {
        var header = await ReceiveHeaderAsync(cancel).ConfigureAwait(false);
        var payload = header.Length == 0 ? [] : new byte[header.Length];
        await ReceivePayloadAsync(header, payload, cancel).ConfigureAwait(false);
        return new Frame(header.Type, payload, TakeFds(header));
    }

    /// <summary>Receives a frame and checks it is of <paramref name="expected"/> type.</summary>
    public async Task<Frame> ReceiveAsync(FrameType expected, CancellationToken cancel = default)
    {
        var frame = await ReceiveAsync(cancel).ConfigureAwait(false);
        if (frame.Type == expected) return frame;
        frame.Dispose();
        throw new ProtocolException(ProtocolError.Malformed, $"expected a {expected} frame, got {frame.Type}");
    }

    /// <summary>Receives and checks the next header (nothing of the payload yet).</summary>
    public async Task<FrameHeader> ReceiveHeaderAsync(CancellationToken cancel = default)
    {
        await FillAsync(FrameHeader.Size, endIsError: false, cancel).ConfigureAwait(false);
        var header = FrameHeader.Parse(_buffer.AsSpan(_start, FrameHeader.Size), MaxPayload);
        _start += FrameHeader.Size;
        return header;
    }

    /// <summary>
    /// Receives the payload of <paramref name="header"/> straight into <paramref name="destination"/>
    /// (exactly <see cref="FrameHeader.Length"/> bytes) and checks its CRC.
    /// </summary>
    public async Task ReceivePayloadAsync(FrameHeader header, Memory<byte> destination, CancellationToken cancel = default)
    {
        if (destination.Length != header.Length) throw new ArgumentException("destination must be exactly the payload's length", nameof(destination));
        var rest = destination;
        int buffered = Math.Min(_end - _start, rest.Length);
        _buffer.AsMemory(_start, buffered).CopyTo(rest);
        _start += buffered;
        rest = rest[buffered..];
        while (!rest.IsEmpty)
        {
            if (rest.Length >= BufferSize)
            {
                // Large payloads go straight into place, without a copy through our buffer.
                int n = await ReceiveRawAsync(rest, cancel).ConfigureAwait(false);
                if (n == 0) throw Cut(header.Type);
                rest = rest[n..];
            }
            else
            {
                await FillAsync(rest.Length, endIsError: true, cancel, header.Type).ConfigureAwait(false);
                _buffer.AsMemory(_start, rest.Length).CopyTo(rest);
                _start += rest.Length;
                rest = default;
            }
        }
        header.Verify(destination.Span);
    }

    /// <summary>
    /// The fds announced by <paramref name="header"/>; they arrived with its first byte. For a
    /// CONNECTIONS frame whose fds the <see cref="FdBudget"/> cut short, the missing ones are null.
    /// </summary>
    public SafeFileHandle?[] TakeFds(FrameHeader header)
    {
        if (header.FdCount == 0) return [];
        if (!_arrivedFds.TryDequeue(out var delivery))
            throw new ProtocolException(ProtocolError.Malformed, $"a {header.Type} frame announces {header.FdCount} file descriptors, but none arrived with it");
        var fds = new SafeFileHandle?[header.FdCount];
        for (int i = 0; i < delivery.Fds.Length; i++)
        {
            if (i < fds.Length) fds[i] = new SafeFileHandle(delivery.Fds[i], ownsHandle: true);
            else Libc.Close(delivery.Fds[i]);
        }
        if (delivery.Fds.Length > header.FdCount || (delivery.Fds.Length < header.FdCount && !(delivery.Truncated && header.Type == FrameType.Connections)))
        {
            foreach (var fd in fds) fd?.Dispose();
            string why = delivery.Truncated ? "; the rest were dropped at this process's fd limit (RLIMIT_NOFILE)" : "";
            throw new ProtocolException(ProtocolError.Malformed,
                $"a {header.Type} frame announces {header.FdCount} file descriptors, but {delivery.Fds.Length} arrived with it{why}");
        }
        return fds;
    }

    /// <summary>The fds of one recvmsg, and whether the kernel dropped some (MSG_CTRUNC).</summary>
    private readonly record struct FdDelivery(int[] Fds, bool Truncated);

    /// <summary>Makes at least <paramref name="count"/> bytes available in the buffer.</summary>
    private async Task FillAsync(int count, bool endIsError, CancellationToken cancel, FrameType type = default)
    {
        if (_end - _start >= count) return;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        while (_end < count)
        {
            int n = await ReceiveRawAsync(_buffer.AsMemory(_end), cancel).ConfigureAwait(false);
            if (n == 0)
            {
                if (!endIsError && _end == 0)
                    throw new ProtocolException(ProtocolError.Closed, "the peer closed the connection");
                throw endIsError ? Cut(type) : new ProtocolException(ProtocolError.Closed, $"the peer closed the connection in the middle of a frame header ({_end} of {FrameHeader.Size} bytes)");
            }
            _end += n;
        }
    }

    /// <summary>One recvmsg, waiting (without a thread) until there is something to read; 0 at the end of the stream.</summary>
    private async ValueTask<int> ReceiveRawAsync(Memory<byte> into, CancellationToken cancel)
    {
        while (true)
        {
            _received.Clear();
            long n = Libc.Receive(_fd, into.Span, _received, FdBudget ?? Libc.MaxFdsPerMessage, out bool truncated);
            if (_received.Count > 0 || truncated)
            {
                _arrivedFds.Enqueue(new FdDelivery([.. _received], truncated));
                if (FdBudget is { } left) FdBudget = Math.Max(0, left - _received.Count);
            }
            if (n >= 0) return (int)n;
            if (n == -Libc.EINTR) continue;
            if (n != -Libc.EAGAIN)
                throw new ProtocolException(ProtocolError.Closed, $"receiving failed: {Libc.ErrorText((int)-n)}");
            try
            {
                // A zero-byte receive completes when data (or the end of the stream) is there; the
                // runtime peeks rather than reads, so any fds stay queued for our recvmsg.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancel).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new ProtocolException(ProtocolError.Closed, $"receiving failed: {e.Message}", e);
            }
        }
    }

    private static ProtocolException Cut(FrameType type) =>
        new(ProtocolError.Closed, $"the peer closed the connection in the middle of a {type} frame: the data was cut");

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _socket.Dispose();
        foreach (var delivery in _arrivedFds)
            foreach (int fd in delivery.Fds) Libc.Close(fd);
        _arrivedFds.Clear();
    }
}
