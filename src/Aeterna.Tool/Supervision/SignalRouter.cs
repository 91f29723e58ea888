using System.Runtime.InteropServices;
using Aeterna.Interop;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// What each signal to the supervisor means: SIGHUP relays; SIGTERM, SIGINT and SIGQUIT stop
/// every generation gracefully (each gets the same signal); SIGUSR1 and SIGUSR2 are forwarded to
/// the active generation. SIGCHLD is deliberately not registered (see ChildReaper).
/// </summary>
internal sealed class SignalRouter : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    /// <param name="stop">Begins the graceful stop, with the signal every generation then gets.</param>
    /// <param name="forward">Sends a signal on to the active generation.</param>
    /// <param name="relays">Where SIGHUP's relay goes.</param>
    /// <param name="log">The supervisor's log.</param>
    public SignalRouter(Action<int> stop, Action<int> forward, RelayCoordinator relays, EventLog log)
    {
        foreach (int signal in new[] { Libc.SIGTERM, Libc.SIGINT, Libc.SIGQUIT })
            Register(signal, () => stop(signal));
        foreach (int signal in new[] { Libc.SIGUSR1, Libc.SIGUSR2 })
            Register(signal, () => forward(signal));
        Register(Libc.SIGHUP, () =>
        {
            log.Info("signal.hup", "SIGHUP: relaying");
            _ = relays.RelayAsync("SIGHUP", new RelayOptions());
        });
    }

    private void Register(int signal, Action action) =>
        // Raw signal numbers are accepted when cast to PosixSignal (SIGUSR1/2 have no named value).
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, context =>
        {
            context.Cancel = true; // never the runtime's default (terminate): we decide
            action();
        }));

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
