// The bridge between libFuzzer and the .NET fuzz targets: libFuzzer and the .NET runtime share
// this one process.
//
// LLVMFuzzerInitialize starts the runtime with the harness as the app (hostfxr, as `dotnet
// Aeterna.Fuzz.dll` would) and gets two [UnmanagedCallersOnly] entry points of LibFuzzerEntry.
// SharpFuzz's instrumentation counts edges into a 64 KiB map (Trace.SharedMem); here that map *is*
// libFuzzer's extra-counters section, so each input costs one function call. (SharpFuzz's own
// libfuzzer-dotnet runs .NET in a child process and passes each input over pipes; on this shared
// 2-core machine that round trip, two context switches per input, was the whole cost.)
//
// Usage: libfuzzer-dotnet --hostfxr=PATH --app=Aeterna.Fuzz.dll --target=NAME [libFuzzer flags] [corpus dirs]
// (libFuzzer ignores flags that start with "--"). Run it with -handle_segv=0 -handle_bus=0
// -handle_fpe=0 -handle_ill=0: the runtime turns those signals into NullReferenceException and
// friends itself. A hang is libFuzzer's -timeout.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_SIZE (1 << 16)

// libFuzzer clears this section before each input and reads every byte as a coverage counter after it.
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[MAP_SIZE];
static uint8_t edges_seen[MAP_SIZE];

// hostfxr's C API (docs: "Native hosting"), the few calls used.
typedef void *hostfxr_handle;
typedef int (*initialize_for_dotnet_command_line_fn)(int argc, const char **argv, const void *parameters, hostfxr_handle *handle);
typedef int (*get_runtime_delegate_fn)(const hostfxr_handle handle, int type, void **delegate);
typedef int (*get_function_pointer_fn)(const char *type_name, const char *method_name, const char *delegate_type_name, void *load_context, void *reserved, void **delegate);
enum { hdt_get_function_pointer = 6 };
#define UNMANAGED_CALLERS_ONLY ((const char *)-1)

typedef int (*initialize_fn)(const char *target, uint8_t *edge_map, int32_t map_size);
typedef int (*test_one_input_fn)(const uint8_t *data, int64_t size);
static test_one_input_fn test_one_input;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "libfuzzer-dotnet: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

static const char *option(int argc, char **argv, const char *name) {
  size_t length = strlen(name);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], name, length) == 0 && argv[i][length] == '=') return argv[i] + length + 1;
  return NULL;
}

// How much of the managed edge map any input reached, printed when libFuzzer exits.
static void print_coverage(void) {
  int edges = 0;
  for (int i = 0; i < MAP_SIZE; i++) edges += edges_seen[i] != 0;
  fprintf(stderr, "libfuzzer-dotnet: managed edges covered: %d of %d\n", edges, MAP_SIZE);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *hostfxr_path = option(*argc, *argv, "--hostfxr");
  const char *app = option(*argc, *argv, "--app");
  const char *target = option(*argc, *argv, "--target");
  if (!hostfxr_path || !app || !target)
    die("usage: libfuzzer-dotnet --hostfxr=PATH --app=Aeterna.Fuzz.dll --target=NAME [libFuzzer flags] [corpus dirs]", NULL);

  void *hostfxr = dlopen(hostfxr_path, RTLD_NOW | RTLD_LOCAL);
  if (!hostfxr) die("cannot load hostfxr", dlerror());
  initialize_for_dotnet_command_line_fn initialize_host = (initialize_for_dotnet_command_line_fn)dlsym(hostfxr, "hostfxr_initialize_for_dotnet_command_line");
  get_runtime_delegate_fn get_delegate = (get_runtime_delegate_fn)dlsym(hostfxr, "hostfxr_get_runtime_delegate");
  if (!initialize_host || !get_delegate) die("hostfxr lacks the hosting API", NULL);

  hostfxr_handle handle = NULL;
  const char *host_argv[] = {app};
  int rc = initialize_host(1, host_argv, NULL, &handle);
  if (rc != 0 || !handle) {
    fprintf(stderr, "libfuzzer-dotnet: starting the runtime for %s failed (0x%x)\n", app, (unsigned)rc);
    exit(2);
  }
  get_function_pointer_fn get_function = NULL;
  rc = get_delegate(handle, hdt_get_function_pointer, (void **)&get_function);
  if (rc != 0 || !get_function) die("the runtime gave no get_function_pointer", NULL);

  initialize_fn initialize = NULL;
  const char *type = "Aeterna.Fuzz.LibFuzzerEntry, Aeterna.Fuzz";
  if (get_function(type, "Initialize", UNMANAGED_CALLERS_ONLY, NULL, NULL, (void **)&initialize) != 0 || !initialize)
    die("no entry point LibFuzzerEntry.Initialize in", app);
  if (get_function(type, "TestOneInput", UNMANAGED_CALLERS_ONLY, NULL, NULL, (void **)&test_one_input) != 0 || !test_one_input)
    die("no entry point LibFuzzerEntry.TestOneInput in", app);
  if (initialize(target, extra_counters, MAP_SIZE) != 0) die("no such target", target);
  atexit(print_coverage);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int outcome = test_one_input(data, (int64_t)size);
  for (int i = 0; i < MAP_SIZE; i++) edges_seen[i] |= extra_counters[i];
  if (outcome != 0) {
    fprintf(stderr, "libfuzzer-dotnet: the .NET target crashed (its exception is above)\n");
    abort();
  }
  return 0;
}
