namespace Aeterna.Tool.Configuration;

/// <summary>
/// The outcome of reading a config: either a validated <see cref="AeternaConfig"/> and no errors,
/// or no config and every error found in the file.
/// </summary>
internal sealed record ConfigLoadResult
{
    private ConfigLoadResult(AeternaConfig? config, IReadOnlyList<ConfigError> errors)
    {
        Config = config;
        Errors = errors;
    }

    /// <summary>The validated config; null when there are errors.</summary>
    public AeternaConfig? Config { get; }

    /// <summary>Every error in the file, in file order; empty on success.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }

    public bool Success => Config is not null;

    public static ConfigLoadResult Valid(AeternaConfig config) => new(config, []);

    public static ConfigLoadResult Invalid(IReadOnlyList<ConfigError> errors) =>
        errors.Count > 0 ? new(null, errors) : throw new ArgumentException("An invalid result needs at least one error.", nameof(errors));
}
