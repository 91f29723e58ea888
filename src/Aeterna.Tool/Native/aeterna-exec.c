/*
 * aeterna-exec: the exec shim between the supervisor and a generation.
 *
 * The supervisor starts every generation with posix_spawn, which places the
 * listening sockets at fds 3, 4, ... and resets signals. Three things cannot be
 * done by posix_spawn because they must happen inside the child, after fork:
 *
 *   1. LISTEN_PID must equal the child's own pid (sd_listen_fds(), gunicorn and
 *      Kestrel's UseSystemd() ignore the fds otherwise), and the pid is only
 *      known after fork;
 *   2. PR_SET_PDEATHSIG, so that a generation dies with a killed supervisor
 *      (a supervisor that is not PID 1 can be SIGKILLed; nothing else would
 *      stop its children from outliving it);
 *   3. a check that the supervisor is still our parent (it may have died
 *      between fork and prctl).
 *
 * It also sets WATCHDOG_PID like LISTEN_PID, and marks every fd above the
 * inherited listeners close-on-exec, so nothing else of the supervisor leaks.
 *
 * It is written in C, not C#, because it runs once per generation on the
 * relay's critical path: it execs within a millisecond, where starting a .NET
 * runtime costs tens of milliseconds and megabytes. It is linked statically so
 * that one binary serves glibc and musl images alike.
 *
 * Usage: aeterna-exec <supervisor-pid> <program> [args...]
 * Exit codes when the program cannot be started: 127 (not found) and
 * 126 (not executable), as shells do; 125 for the shim's own usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "aeterna-exec: usage: aeterna-exec <supervisor-pid> <program> [args...]\n");
        return 125;
    }
    char *end = NULL;
    long supervisor = strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || supervisor <= 0) {
        fprintf(stderr, "aeterna-exec: '%s' is not a pid\n", argv[1]);
        return 125;
    }

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fprintf(stderr, "aeterna-exec: prctl(PR_SET_PDEATHSIG): %s\n", strerror(errno));
        return 125;
    }
    /* The supervisor may have died before prctl took effect. */
    if ((long)getppid() != supervisor) {
        fprintf(stderr, "aeterna-exec: supervisor %ld is gone; not starting %s\n", supervisor, argv[2]);
        return 125;
    }

    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    const char *listen_fds = getenv("LISTEN_FDS");
    if (listen_fds != NULL)
        setenv("LISTEN_PID", pid, 1);
    if (getenv("WATCHDOG_USEC") != NULL)
        setenv("WATCHDOG_PID", pid, 1);

    /* close_range(first, ~0U, CLOSE_RANGE_CLOEXEC); older kernels lack it, which is harmless:
       the supervisor opens every fd close-on-exec anyway. */
    unsigned int first = 3 + (listen_fds != NULL ? (unsigned int)strtoul(listen_fds, NULL, 10) : 0);
    syscall(SYS_close_range, first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);

    execvp(argv[2], &argv[2]);
    int err = errno;
    fprintf(stderr, "aeterna-exec: cannot execute '%s': %s\n", argv[2], strerror(err));
    return (err == ENOENT || err == ENOTDIR) ? 127 : 126;
}
