// The bridge between libFuzzer and a .NET fuzz target (SharpFuzz's Fuzzer.LibFuzzer.Run).
//
// libFuzzer runs in this process; the managed code runs in a child `dotnet` process that stays up
// for the whole run. They share one System V segment: the first 64 KiB are SharpFuzz's edge map
// (the instrumented assembly writes it), the rest holds the input. Per input this process writes
// the input's length (int32) on the control pipe and reads the outcome (int32: 0 fine, anything
// else a crash) from the status pipe, then copies the edge map into libFuzzer's extra counters,
// which is how libFuzzer sees the managed coverage. SharpFuzz finds the segment and the pipes from
// __LIBFUZZER_SHM_ID, __LIBFUZZER_CONTROL_PIPE_ID and __LIBFUZZER_STATUS_PIPE_ID.
//
// Usage: libfuzzer-dotnet --target=COMMAND [--target-arg=ARG ...] [libFuzzer flags] [corpus dirs]
// (libFuzzer ignores flags that start with "--"). A hang is libFuzzer's -timeout in this process;
// the child dies with it (PR_SET_PDEATHSIG).

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP_SIZE (1 << 16)
#define MAX_INPUT (1 << 20)
#define MAX_ARGS 32

// libFuzzer reads every byte of this section as a coverage counter after each input.
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[MAP_SIZE];

static uint8_t *shared;
static int control_fd = -1, status_fd = -1;
static pid_t child;
static uint8_t edges_seen[MAP_SIZE];

static void fail(const char *what) {
  fprintf(stderr, "libfuzzer-dotnet: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int write_all(int fd, const void *buffer, size_t length) {
  const uint8_t *p = buffer;
  while (length > 0) {
    ssize_t n = write(fd, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    length -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buffer, size_t length) {
  uint8_t *p = buffer;
  while (length > 0) {
    ssize_t n = read(fd, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    length -= (size_t)n;
  }
  return 0;
}

// How much of the managed edge map any input reached, printed when libFuzzer exits.
static void print_coverage(void) {
  int edges = 0;
  for (int i = 0; i < MAP_SIZE; i++) edges += edges_seen[i] != 0;
  fprintf(stderr, "libfuzzer-dotnet: managed edges covered: %d of %d\n", edges, MAP_SIZE);
}

static void child_died(void) {
  int status = 0;
  if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
    if (WIFSIGNALED(status))
      fprintf(stderr, "libfuzzer-dotnet: the .NET process died of signal %d\n", WTERMSIG(status));
    else
      fprintf(stderr, "libfuzzer-dotnet: the .NET process exited with %d\n", WEXITSTATUS(status));
  } else {
    fprintf(stderr, "libfuzzer-dotnet: the .NET process closed its status pipe\n");
  }
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char *target_argv[MAX_ARGS + 1];
  int target_argc = 0;
  for (int i = 1; i < *argc && target_argc < MAX_ARGS; i++) {
    const char *arg = (*argv)[i];
    if (strncmp(arg, "--target=", 9) == 0 && target_argc == 0) target_argv[target_argc++] = (char *)arg + 9;
    else if (strncmp(arg, "--target-arg=", 13) == 0 && target_argc > 0) target_argv[target_argc++] = (char *)arg + 13;
  }
  if (target_argc == 0) {
    fprintf(stderr, "usage: libfuzzer-dotnet --target=COMMAND [--target-arg=ARG ...] [libFuzzer flags] [corpus dirs]\n");
    exit(2);
  }
  target_argv[target_argc] = NULL;

  int shm_id = shmget(IPC_PRIVATE, MAP_SIZE + MAX_INPUT, IPC_CREAT | IPC_EXCL | 0600);
  if (shm_id < 0) fail("shmget");
  shared = shmat(shm_id, NULL, 0);
  if (shared == (void *)-1) fail("shmat");

  int control[2], status[2];
  if (pipe(control) != 0 || pipe(status) != 0) fail("pipe");

  char shm_text[16], control_text[16], status_text[16];
  snprintf(shm_text, sizeof shm_text, "%d", shm_id);
  snprintf(control_text, sizeof control_text, "%d", control[0]);
  snprintf(status_text, sizeof status_text, "%d", status[1]);

  child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(control[1]);
    close(status[0]);
    setenv("__LIBFUZZER_SHM_ID", shm_text, 1);
    setenv("__LIBFUZZER_CONTROL_PIPE_ID", control_text, 1);
    setenv("__LIBFUZZER_STATUS_PIPE_ID", status_text, 1);
    execvp(target_argv[0], target_argv);
    fprintf(stderr, "libfuzzer-dotnet: cannot run %s: %s\n", target_argv[0], strerror(errno));
    _exit(127);
  }
  close(control[0]);
  close(status[1]);
  control_fd = control[1];
  status_fd = status[0];
  signal(SIGPIPE, SIG_IGN);

  // The child writes 0 once it has attached the segment; after that nobody else needs its id.
  int32_t ready;
  if (read_all(status_fd, &ready, sizeof ready) != 0) child_died();
  shmctl(shm_id, IPC_RMID, NULL);
  atexit(print_coverage);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT) size = MAX_INPUT;
  memset(shared, 0, MAP_SIZE);
  memcpy(shared + MAP_SIZE, data, size);
  int32_t length = (int32_t)size, outcome;
  if (write_all(control_fd, &length, sizeof length) != 0) child_died();
  if (read_all(status_fd, &outcome, sizeof outcome) != 0) child_died();
  memcpy(extra_counters, shared, MAP_SIZE);
  for (int i = 0; i < MAP_SIZE; i++) edges_seen[i] |= shared[i];
  if (outcome != 0) {
    fprintf(stderr, "libfuzzer-dotnet: the .NET target reported a crash (its exception is above)\n");
    abort();
  }
  return 0;
}
