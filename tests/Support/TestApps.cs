namespace Aeterna.Tests.Support;

/// <summary>The services the tests relay (tests/apps).</summary>
internal static class TestApps
{
    private static string Apps => Path.Combine(Repo.Root, "tests", "apps");

    /// <summary>
    /// A Python HTTP server on the inherited fd 3 that answers <c>{"pid": …}</c> and speaks
    /// sd_notify; <c>--mode</c> makes it misbehave (see the script's header).
    /// </summary>
    public static string PythonServer => Path.Combine(Apps, "python_server.py");

    /// <summary>The stateless .NET test app: ASP.NET Core with AddAeterna() (inherited listener, READY, lame-duck drain).</summary>
    public static string DotnetApp => Path.Combine(Apps, "DotnetApp", "bin", Repo.Configuration, "net10.0", "DotnetApp.dll");

    /// <summary>The stateful .NET test app (Aeterna.Runtime): a key-value store and a RelayMemory block; STATEFUL_MODE injects faults.</summary>
    public static string StatefulApp => Path.Combine(Apps, "StatefulApp", "bin", Repo.Configuration, "net10.0", "StatefulApp.dll");

    /// <summary>A raw TCP line counter (no HTTP) whose connections are handed to the next generation at every relay; COUNTER_MODE injects faults.</summary>
    public static string CounterApp => Path.Combine(Apps, "CounterApp", "bin", Repo.Configuration, "net10.0", "CounterApp.dll");

    /// <summary>The template's agent (templates/aeterna-agent's sources on this repository's runtime), its JIT build; listeners "http" and "ws".</summary>
    public static string TemplateAgent => Path.Combine(Apps, "TemplateAgent", "bin", Repo.Configuration, "net10.0", "TemplateAgent.dll");

    /// <summary>Debian's unmodified gunicorn serving a WSGI app; it takes fd 3 through LISTEN_FDS and sends READY=1 itself.</summary>
    public static IReadOnlyList<string> GunicornCommand() =>
        ["gunicorn", "--workers", "2", "--graceful-timeout", "10", "--chdir", Apps, "gunicorn_app:app"];
}
