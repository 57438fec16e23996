using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Training;

/// <summary>Keras's <c>verbose</c> argument: <c>auto</c> (the default value), 0 silent, 1 progress bar, 2 one line per epoch.</summary>
public readonly struct Verbose : IEquatable<Verbose>
{
    private readonly int code;   // 0: auto; otherwise level + 1, so that default(Verbose) is auto

    /// <summary>A level: 0 silent, 1 progress bar, 2 one line per epoch.</summary>
    public Verbose(int level) => code = level is >= 0 and <= 2 ? level + 1
        : throw new ArgumentException($"Expected argument 'verbose' to be 'auto', 0, 1 or 2. Received: verbose={level}.", nameof(level));

    /// <summary>Keras's <c>"auto"</c>: a progress bar on an interactive console, one line per epoch when output is redirected or <c>CI</c> is set.</summary>
    public static Verbose Auto => default;

    /// <summary>Whether this is <c>auto</c>.</summary>
    public bool IsAuto => code == 0;

    /// <summary>The level asked for (−1 for auto).</summary>
    public int Level => code - 1;

    /// <summary>0, 1 or 2.</summary>
    public static implicit operator Verbose(int level) => new(level);

    /// <summary><c>"auto"</c>, or a level as text.</summary>
    public static implicit operator Verbose(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "auto" => Auto,
        "0" => new(0),
        "1" => new(1),
        "2" => new(2),
        _ => throw new ArgumentException($"Expected argument 'verbose' to be 'auto', 0, 1 or 2. Received: verbose='{value}'.", nameof(value)),
    };

    /// <summary>The level to use: auto becomes 1 on an interactive console and 2 when output is redirected or <c>CI</c> is set.</summary>
    public int Resolve() => !IsAuto ? Level : Console.IsOutputRedirected || IsCi() ? 2 : 1;

    internal static bool IsCi()
    {
        var ci = Environment.GetEnvironmentVariable("CI");
        return !string.IsNullOrEmpty(ci) && !ci.Equals("false", StringComparison.OrdinalIgnoreCase) && ci != "0";
    }

    /// <inheritdoc />
    public bool Equals(Verbose other) => code == other.code;
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Verbose v && Equals(v);
    /// <inheritdoc />
    public override int GetHashCode() => code;
    /// <summary>Equality.</summary>
    public static bool operator ==(Verbose a, Verbose b) => a.Equals(b);
    /// <summary>Inequality.</summary>
    public static bool operator !=(Verbose a, Verbose b) => !a.Equals(b);

    /// <inheritdoc />
    public override string ToString() => IsAuto ? "auto" : Level.ToString();
}
