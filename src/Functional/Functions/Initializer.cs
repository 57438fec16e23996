namespace Functional;

/// <summary>
/// A Keras weight initializer: a pure description (name, arguments, seed). Functional.Torch samples it.
/// </summary>
/// <remarks>
/// Fans follow Keras: for a kernel of shape <c>(…receptive field…, in, out)</c>, fan_in = receptive·in and fan_out = receptive·out;
/// for a 2-D <c>(in, out)</c> kernel, fan_in = in and fan_out = out.
/// </remarks>
public abstract record Initializer
{
    /// <summary>The Keras class name, e.g. <c>GlorotUniform</c>.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>Keras's fan computation for a weight of the given Keras-layout shape.</summary>
    public static (double FanIn, double FanOut) ComputeFans(IReadOnlyList<int> shape)
    {
        if (shape.Count == 0) return (1, 1);
        if (shape.Count == 1) return (shape[0], shape[0]);
        if (shape.Count == 2) return (shape[0], shape[1]);
        double receptive = 1;
        for (var i = 0; i < shape.Count - 2; i++) receptive *= shape[i];
        return (shape[^2] * receptive, shape[^1] * receptive);
    }

    /// <summary>Keras's string identifiers (<c>"glorot_uniform"</c>, <c>"zeros"</c>, …).</summary>
    public static implicit operator Initializer(string name) => Initializers.Get(name);
}

/// <summary>Fills with zeros (Keras <c>zeros</c>, the default bias initializer).</summary>
public sealed record Zeros : Initializer;

/// <summary>Fills with ones (Keras <c>ones</c>).</summary>
public sealed record Ones : Initializer;

/// <summary>
/// Glorot (Xavier) uniform: U(−limit, limit) with limit = √(6 / (fan_in + fan_out)). Keras's default kernel initializer.
/// </summary>
/// <param name="Seed">Makes the draw reproducible; <c>null</c> draws from the global generator.</param>
public sealed record GlorotUniform(int? Seed = null) : Initializer;

/// <summary>Looks initializers up by their Keras string identifiers.</summary>
public static class Initializers
{
    private static readonly Dictionary<string, Func<Initializer>> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["zeros"] = () => new Zeros(), ["zero"] = () => new Zeros(),
        ["ones"] = () => new Ones(), ["one"] = () => new Ones(),
        ["glorot_uniform"] = () => new GlorotUniform(), ["GlorotUniform"] = () => new GlorotUniform(),
        ["xavier_uniform"] = () => new GlorotUniform(),
    };

    /// <summary>Registers another initializer under a Keras identifier.</summary>
    public static void Register(string name, Func<Initializer> factory) => ByName[name] = factory;

    /// <summary>The initializer a Keras identifier names.</summary>
    /// <exception cref="ArgumentException">The identifier is unknown.</exception>
    public static Initializer Get(string name) =>
        ByName.TryGetValue(name?.Trim() ?? "", out var f)
            ? f()
            : throw new ArgumentException(
                $"Could not interpret initializer identifier: {Padding.Quote(name)}. Known: {string.Join(", ", ByName.Keys.Order())}.", "initializer");
}
