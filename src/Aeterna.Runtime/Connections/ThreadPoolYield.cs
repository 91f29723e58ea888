using System.Runtime.CompilerServices;

namespace Aeterna.Connections;

/// <summary>
/// <c>await ThreadPoolYield.Instance</c> goes on on the thread pool, whatever context the caller
/// has. <see cref="Task.Yield"/> would go back to the caller's synchronization context or task
/// scheduler if there is one, and <see cref="Task.Run(Func{Task})"/> costs three objects per call
/// (at a relay, one call for each of thousands of connections).
/// </summary>
internal readonly struct ThreadPoolYield : ICriticalNotifyCompletion
{
    public static ThreadPoolYield Instance => default;

    public ThreadPoolYield GetAwaiter() => this;

    public bool IsCompleted => false;

    public void GetResult() { }

    public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
}
