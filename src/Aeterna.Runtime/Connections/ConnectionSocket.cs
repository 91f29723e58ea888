using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Aeterna.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Connections;

/// <summary>
/// The fd of one handed connection, read and written through <see cref="ConnectionPoll"/>: while a
/// round reads, each readiness moves what the kernel has into the round's pipe with
/// recv(MSG_DONTWAIT); a send that would block waits for writability the same way.
/// </summary>
/// <remarks>
/// Only this class takes bytes off the socket, and only under its lock, so stopping a round's
/// reading is taking the lock once: whatever was read by then is in that round's pipe (its
/// read-ahead), and nothing is read after. No .NET <see cref="Socket"/> is made for the fd unless
/// code asks for one (<see cref="Socket"/>): making one costs several syscalls per connection. The
/// fd is closed with a plain close(2) (<see cref="SafeFileHandle"/>; a <see cref="SafeSocketHandle"/>
/// disposed on its own sets a zero linger first, which would reset the connection the other
/// generation serves), after its epoll registrations are deleted.
/// </remarks>
internal sealed class ConnectionSocket
{
    /// <summary>
    /// What one recv(2) may take: read into the poll thread's own buffer and copied into the
    /// pipe, so that a 30-byte message costs the pipe one small segment rather than a 16 KiB one
    /// (at a relay thousands of connections become readable at once, each holding its segment
    /// until its handler runs).
    /// </summary>
    private const int ReadSize = 64 * 1024;

    [ThreadStatic] private static byte[]? t_scratch;

    private readonly Lock _lock = new();
    private readonly uint _key = ConnectionPoll.Shared.NewKey();
    private readonly int _fd;
    private PipeWriter? _fill;
    private PipeWriter? _blocked;
    private TaskCompletionSource? _writable;
    private HandedConnection? _waiter;
    private bool _inputSeen;
    private uint _armed;
    private bool _registered;
    private bool _closed;
    private Socket? _socket;
    private EndPoint? _remote;
    private bool _remoteKnown;

    public ConnectionSocket(SafeFileHandle fd)
    {
        Handle = fd;
        _fd = (int)fd.DangerousGetHandle();
    }

    /// <summary>
    /// A socket accepted by .NET, taken over as a plain fd: a duplicate of it, the original closed
    /// (no operation was ever started on it, so that is a plain close(2), and the connection lives on
    /// in the duplicate).
    /// </summary>
    public static ConnectionSocket Accepted(Socket socket)
    {
        EndPoint? remote = null;
        try { remote = socket.RemoteEndPoint; }
        catch (SocketException) { } // already reset by the client: the first read says so
        var fd = new SafeFileHandle(Libc.DupCloseOnExec((int)socket.Handle, 3), ownsHandle: true);
        socket.Dispose();
        return new ConnectionSocket(fd) { _remote = remote, _remoteKnown = true };
    }

    /// <summary>The tag of its poll registrations (<see cref="ConnectionPoll.NewKey"/>).</summary>
    public uint Key => _key;

    /// <summary>This process's fd of the connection (sent as is by SCM_RIGHTS).</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>The client's address, asked of the kernel the first time (null once the client is gone).</summary>
    public EndPoint? RemoteEndPoint
    {
        get
        {
            if (!_remoteKnown)
            {
                try { _remote = Socket.RemoteEndPoint; }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
                _remoteKnown = true;
            }
            return _remote;
        }
    }

    /// <summary>
    /// A .NET socket over the same fd, made on first use, for code that needs one (an ending that
    /// waits for the client's last word). It does not own the fd; its epoll registration is deleted
    /// before the fd is closed.
    /// </summary>
    public Socket Socket
    {
        get
        {
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_closed, this);
                if (_socket is null)
                {
                    // A stale registration of the same connection under this fd number would make .NET's EPOLL_CTL_ADD fail.
                    EventPolls.Forget(Handle);
                    _socket = new Socket(new SafeSocketHandle(Handle.DangerousGetHandle(), ownsHandle: false));
                }
                return _socket;
            }
        }
    }

    /// <summary>From now on the client's bytes go into <paramref name="writer"/> as they arrive (and its end of stream completes it).</summary>
    public void StartReading(PipeWriter writer)
    {
        lock (_lock)
        {
            if (_closed)
            {
                writer.Complete(); // closed before its round began: the handler sees the end and returns
                return;
            }
            _waiter = null;
            _fill = writer;
            _blocked = null;
            // The poll reported bytes nobody took: take them now rather than after one more wake-up.
            if (_inputSeen)
            {
                _inputSeen = false;
                Fill(writer);
            }
            Arm();
        }
    }

    /// <summary>
    /// Stops reading into the current writer: once this returns nothing more is read until the
    /// next <see cref="StartReading"/>, and everything read before is in the writer (committed).
    /// </summary>
    public void StopReading()
    {
        lock (_lock)
        {
            _fill?.CancelPendingFlush();
            _fill = null;
            // The registration stays armed if it is: one wake-up finds nothing to do and disarms it.
        }
    }

    /// <summary>
    /// Registers the fd with the poll, armed for input, before anything reads it: a connection
    /// staged for COMMIT, so that COMMIT has no registration to make. Readiness meanwhile is only
    /// noted (<see cref="HasInput"/>). A registration that fails is made again, and fails the
    /// round then, when the connection is served.
    /// </summary>
    public void Register()
    {
        lock (_lock)
        {
            if (_closed || _registered) return;
            uint want = Libc.EPOLLIN | Libc.EPOLLRDHUP;
            if (ConnectionPoll.Shared.Arm(this, _fd, _key, want, registered: false) != 0) return;
            _registered = true;
            _armed = want;
        }
    }

    /// <summary>Whether the poll reported the socket readable (bytes, the client's end, an error) while nobody was reading it.</summary>
    public bool HasInput
    {
        get { lock (_lock) return _inputSeen; }
    }

    /// <summary>
    /// Tells <paramref name="waiter"/> once, on the poll's thread, when the client next sends
    /// something or closes (<see cref="HandedConnection.OnInput"/>); nothing is read. Until then the
    /// connection costs its registration only.
    /// </summary>
    public void WatchForInput(HandedConnection waiter)
    {
        lock (_lock)
        {
            if (_closed) return;
            if (_inputSeen)
            {
                waiter.OnInput();
                return;
            }
            _waiter = waiter;
            Arm();
        }
    }

    /// <summary>Ends <see cref="WatchForInput"/>: once this returns, the waiter is not told (it may have been already).</summary>
    public void StopWatching()
    {
        lock (_lock) _waiter = null;
    }

    /// <summary>Sends all of <paramref name="data"/>; waits for room in the send buffer when it is full.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancel)
    {
        while (!data.IsEmpty)
        {
            long n = Libc.SendNow(Handle, data.Span);
            if (n > 0) data = data[(int)n..];
            else if (n == -Libc.EINTR) continue;
            else if (n == -Libc.EAGAIN) await WritableAsync().WaitAsync(cancel).ConfigureAwait(false);
            else throw SocketErrors.FromErrno((int)-n);
        }
    }

    private Task WritableAsync()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _writable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Arm();
            return _writable.Task;
        }
    }

    /// <summary>Called by the poll's thread with what became ready; the registration is disarmed now.</summary>
    public void OnReady(uint events)
    {
        lock (_lock)
        {
            if (_closed) return;
            _armed = 0;
            if ((events & (Libc.EPOLLOUT | Libc.EPOLLERR | Libc.EPOLLHUP)) != 0 && _writable is { } writable)
            {
                _writable = null;
                writable.TrySetResult(); // the send tries again and meets the error, if that is what it was
            }
            // Staged, held or waiting: noted for whoever serves it next, who takes the bytes at once.
            if (_fill is null && (events & ~Libc.EPOLLOUT) != 0) _inputSeen = true;
            if (_waiter is { } waiter)
            {
                _waiter = null;
                waiter.OnInput();
            }
            if (_fill is { } writer && _blocked != writer) Fill(writer);
            Arm();
        }
    }

    /// <summary>Moves what the kernel has into <paramref name="writer"/> (under the lock).</summary>
    private void Fill(PipeWriter writer)
    {
        try
        {
            var scratch = t_scratch ??= new byte[ReadSize];
            while (true)
            {
                long n = Libc.ReceiveNow(Handle, scratch);
                if (n == -Libc.EINTR) continue;
                if (n == -Libc.EAGAIN) break; // a wake-up for writability only, or a spurious one
                if (n < 0)
                {
                    _fill = null;
                    writer.Complete(SocketErrors.FromErrno((int)-n));
                    return;
                }
                if (n == 0)
                {
                    _fill = null;
                    writer.Complete();
                    return;
                }
                writer.Write(scratch.AsSpan(0, (int)n));
                // A short read emptied the receive queue; if more came meanwhile, re-arming (level-triggered) reports it.
                if (n < scratch.Length) break;
            }
            // Bytes are committed before the flush can wait for the handler to catch up: a pause
            // that cancels the wait loses none.
            var flush = writer.FlushAsync();
            if (!flush.IsCompleted)
            {
                _blocked = writer;
                _ = UnblockAsync(writer, flush);
            }
            else if (flush.Result.IsCompleted) _fill = null;
        }
        catch (ObjectDisposedException)
        {
            _fill = null; // closed meanwhile: nothing to read into
        }
    }

    /// <summary>The handler consumed enough of a full pipe: read again.</summary>
    private async Task UnblockAsync(PipeWriter writer, ValueTask<FlushResult> flush)
    {
        bool done = false;
        try { done = (await flush.ConfigureAwait(false)).IsCompleted; }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException) { done = true; }
        lock (_lock)
        {
            if (_blocked != writer) return;
            _blocked = null;
            if (done && _fill == writer) _fill = null;
            if (!_closed) Arm();
        }
    }

    /// <summary>Arms the registration for what is wanted now (under the lock).</summary>
    private void Arm()
    {
        bool reading = (_fill is not null && _blocked != _fill) || _waiter is not null;
        uint want = (reading ? Libc.EPOLLIN | Libc.EPOLLRDHUP : 0) | (_writable is not null ? Libc.EPOLLOUT : 0);
        if (want == 0 || want == _armed) return;
        int error = ConnectionPoll.Shared.Arm(this, _fd, _key, want, _registered);
        if (error != 0)
        {
            // Not a socket epoll can wait on, or out of memory: fail the round's reads and sends rather than hang.
            var failure = SocketErrors.FromErrno(error);
            _fill?.Complete(failure);
            _fill = null;
            _writable?.TrySetException(failure);
            _writable = null;
            // A watched connection is served now instead: its round meets the same failure and ends.
            var waiter = _waiter;
            _waiter = null;
            waiter?.OnInput();
            return;
        }
        _registered = true;
        _armed = want;
    }

    /// <summary>close(2) of this process's fd, after deleting its epoll registrations (ours and, if a .NET socket was made, .NET's).</summary>
    public void Close()
    {
        Socket? socket;
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            _fill = null;
            _waiter = null;
            if (_registered) ConnectionPoll.Shared.Remove(this, _fd);
            _writable?.TrySetException(new ObjectDisposedException(nameof(ConnectionSocket)));
            _writable = null;
            socket = _socket;
        }
        if (socket is not null)
        {
            EventPolls.Forget(Handle);
            socket.Dispose(); // does not own the fd: closes nothing
        }
        Handle.Dispose(); // a send still in flight holds a reference: the close waits for it
    }
}
