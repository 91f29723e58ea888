using System.CommandLine;
using Aeterna.Tool.Cli;

// The supervisor handles SIGTERM, SIGINT and SIGQUIT itself (Supervision/SignalRouter): a graceful
// stop drains every generation for up to drain_timeout. System.CommandLine's own handling would
// end the process two seconds after the signal (its ProcessTerminationTimeout), killing the drain.
return await AeternaCli.Create().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
