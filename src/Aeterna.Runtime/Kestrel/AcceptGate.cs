namespace Aeterna.Kestrel;

/// <summary>
/// Open: Kestrel's accept loops take connections. Closed: they wait, and new connections stay in
/// the kernel's accept queue of the shared listener, for whichever generation accepts next.
/// </summary>
internal sealed class AcceptGate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _closing = new();
    private bool _open;

    public bool IsOpen
    {
        get { lock (_lock) return _open; }
    }

    public void Open()
    {
        lock (_lock)
        {
            if (_open) return;
            _open = true;
            _closing = new CancellationTokenSource();
            _opened.TrySetResult();
        }
    }

    /// <summary>Closes the gate; accepts in progress are cancelled (a cancelled accept takes no connection from the queue).</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (!_open) return;
            _open = false;
            _opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _closing.Cancel();
        }
    }

    /// <summary>Completes when the gate is open, and the token that fires when it next closes.</summary>
    public (Task Opened, CancellationToken Closing) Current()
    {
        lock (_lock) return (_open ? Task.CompletedTask : _opened.Task, _closing.Token);
    }
}
