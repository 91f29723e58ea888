using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Protocol;

/// <summary>A received frame: its type, its payload, and the file descriptors that came with it (owned until taken).</summary>
internal sealed class Frame(FrameType type, byte[] payload, SafeFileHandle?[] fds) : IDisposable
{
    private readonly SafeFileHandle?[] _fds = fds;

    public FrameType Type { get; } = type;

    public ReadOnlyMemory<byte> Payload { get; } = payload;

    public int FdCount => _fds.Length;

    /// <summary>The payload as a JSON message; <see cref="ProtocolException"/> (Malformed) when it is not one.</summary>
    public T Read<T>(JsonTypeInfo<T> type) => Decode(Type, Payload.Span, type);

    /// <summary>Parses a JSON payload; the pure decoder the fuzz tests drive.</summary>
    public static T Decode<T>(FrameType frameType, ReadOnlySpan<byte> payload, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, type)
                ?? throw new ProtocolException(ProtocolError.Malformed, $"a {frameType} frame's payload is null");
        }
        catch (JsonException e)
        {
            throw new ProtocolException(ProtocolError.Malformed, $"a {frameType} frame's payload is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>Whether fd <paramref name="index"/> arrived and is not taken (a CONNECTIONS frame's may have been dropped at the fd limit).</summary>
    public bool HasFd(int index) => (uint)index < (uint)_fds.Length && _fds[index] is not null;

    /// <summary>Takes ownership of the fd at <paramref name="index"/>.</summary>
    public SafeFileHandle TakeFd(int index)
    {
        if ((uint)index >= (uint)_fds.Length || _fds[index] is not { } fd)
            throw new ProtocolException(ProtocolError.Malformed, $"a {Type} frame should carry file descriptor #{index + 1}, but it carries {_fds.Length}");
        _fds[index] = null;
        return fd;
    }

    /// <summary>Closes every fd not taken.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            _fds[i]?.Dispose();
            _fds[i] = null;
        }
    }
}
