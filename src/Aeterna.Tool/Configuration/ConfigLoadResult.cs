namespace Aeterna.Tool.Configuration;

/// <summary>
/// The outcome of reading a config: either a validated <see cref="AeternaConfig"/> and no errors,
/// or no config and every error found in the file.
/// </summary>
internal sealed record ConfigLoadResult
{
    private ConfigLoadResult(AeternaConfig? config, IReadOnlyList<ConfigError> errors, string? controlSocketPath)
    {
        Config = config;
        Errors = errors;
        ControlSocketPath = controlSocketPath;
    }

    /// <summary>The validated config; null when there are errors.</summary>
    public AeternaConfig? Config { get; }

    /// <summary>Every error in the file, in file order; empty on success.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }

    public bool Success => Config is not null;

    /// <summary>
    /// The control socket the file names, as far as it could be read: set for every file that
    /// parsed as YAML, valid or not, so that `status` and `stop` reach the running supervisor
    /// while its config is being edited.
    /// </summary>
    public string? ControlSocketPath { get; }

    public static ConfigLoadResult Valid(AeternaConfig config) => new(config, [], config.Control.SocketPath);

    public static ConfigLoadResult Invalid(IReadOnlyList<ConfigError> errors, string? controlSocketPath = null) =>
        errors.Count > 0 ? new(null, errors, controlSocketPath) : throw new ArgumentException("An invalid result needs at least one error.", nameof(errors));
}
