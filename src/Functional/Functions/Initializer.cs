using Functional.Shapes;
using System.Globalization;

namespace Functional.Functions;

/// <summary>
/// A Keras weight initializer: a pure description (class, arguments, seed). Functional.Torch samples it.
/// </summary>
/// <remarks>
/// <para>Fans follow Keras's <c>compute_fans</c> on the weight's Keras-layout shape: a scalar has fans (1, 1), a vector
/// (n, n), a matrix <c>(in, out)</c> (in, out), and a kernel <c>(…receptive field…, in, out)</c> (receptive·in, receptive·out).</para>
/// <para>Initializers with a seed draw the same values every time they fill a weight of a given shape (a rebuilt model gets
/// the same weights); without a seed they draw from the global generator (<c>torch.manual_seed</c>).</para>
/// </remarks>
public abstract record Initializer
{
    /// <summary>The Keras class name, e.g. <c>GlorotUniform</c>.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>
    /// False for initializers whose values have a structure across the weight (<see cref="Orthogonal"/>, <see cref="Identity"/>):
    /// those must be sampled in Keras's layout and then moved into the backend's layout, never just reshaped.
    /// </summary>
    public virtual bool IsElementwise => true;

    /// <summary>Keras's fan computation for a weight of the given Keras-layout shape.</summary>
    public static (double FanIn, double FanOut) ComputeFans(IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count == 0) return (1, 1);
        if (shape.Count == 1) return (shape[0], shape[0]);
        if (shape.Count == 2) return (shape[0], shape[1]);
        double receptive = 1;
        for (var i = 0; i < shape.Count - 2; i++) receptive *= shape[i];
        return (shape[^2] * receptive, shape[^1] * receptive);
    }

    /// <summary>
    /// Checks that this initializer can fill a weight of the given Keras-layout shape (and re-checks the arguments,
    /// which <c>with</c> can change without a constructor). Most accept any shape.
    /// </summary>
    /// <exception cref="ArgumentException">The shape (or an argument) does not suit the initializer.</exception>
    public virtual void CheckShape(IReadOnlyList<int> shape) => ArgumentNullException.ThrowIfNull(shape);

    /// <summary>Keras's string identifiers (<c>"glorot_uniform"</c>, <c>"GlorotUniform"</c>, <c>"zeros"</c>, …).</summary>
    public static implicit operator Initializer(string name) => OptionConversion.Convert(name, n => Initializers.Get(n!));

    /// <summary>An argument error in Keras's wording, naming this initializer, the argument and the value.</summary>
    protected ArgumentException ArgumentError(string argument, object? value, string expectation) =>
        new($"{ClassName}: expected argument '{argument}' to be {expectation}. Received: {argument}={Format(value)}.", argument);

    /// <summary>Python-style formatting of an argument value.</summary>
    protected static string Format(object? value) => value switch
    {
        null => "None",
        string s => $"'{s}'",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IReadOnlyList<int> shape => FormatShape(shape),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "None",
    };

    /// <summary>A shape as Python prints a tuple: <c>(3,)</c>, <c>(3, 4)</c>.</summary>
    public static string FormatShape(IReadOnlyList<int> shape) =>
        shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";

    /// <summary>Requires a finite number.</summary>
    protected double Finite(double value, string argument) =>
        double.IsFinite(value) ? value : throw ArgumentError(argument, value, "a finite number");

    /// <summary>Requires a finite, non-negative number.</summary>
    protected double NonNegative(double value, string argument) =>
        double.IsFinite(value) && value >= 0 ? value : throw ArgumentError(argument, value, "a non-negative finite number");
}

/// <summary>Fills with zeros (Keras <c>Zeros</c>, <c>"zeros"</c>; the default bias initializer).</summary>
public sealed record Zeros : Initializer;

/// <summary>Fills with ones (Keras <c>Ones</c>, <c>"ones"</c>).</summary>
public sealed record Ones : Initializer;

/// <summary>Fills with one scalar value (Keras <c>Constant</c>, <c>"constant"</c>; default value 0).</summary>
public sealed record Constant : Initializer
{
    /// <summary>Creates the initializer; Keras's default value is 0.</summary>
    public Constant(double value = 0.0) => Value = value;

    /// <summary>The value every element gets.</summary>
    public double Value { get; init; }
}

/// <summary>
/// The identity matrix times <see cref="Gain"/> (Keras <c>Identity</c>, <c>"identity"</c>); like Keras, 2-D weights only.
/// A non-square matrix gets ones on its main diagonal (<c>eye(rows, cols)</c>).
/// </summary>
public sealed record Identity : Initializer
{
    /// <summary>Creates the initializer; Keras's default gain is 1.</summary>
    public Identity(double gain = 1.0) => Gain = gain;

    /// <summary>The multiplicative factor applied to the identity matrix.</summary>
    public double Gain { get; init => field = Finite(value, "gain"); }

    /// <inheritdoc />
    public override bool IsElementwise => false;

    /// <inheritdoc />
    public override void CheckShape(IReadOnlyList<int> shape)
    {
        base.CheckShape(shape);
        if (shape.Count != 2)
            throw new ArgumentException(
                "Identity matrix initializer can only be used for 2D matrices. " +
                $"Received: shape={FormatShape(shape)} of rank {shape.Count}.", nameof(shape));
    }
}

/// <summary>Base of Keras's random initializers: they take a <see cref="Seed"/>.</summary>
public abstract record RandomInitializer : Initializer
{
    /// <summary>Stores the seed.</summary>
    protected RandomInitializer(int? seed) => Seed = seed;

    /// <summary>Makes the draw reproducible: the same seed gives the same values for the same shape. <c>null</c> draws from the global generator.</summary>
    public int? Seed { get; init; }
}

/// <summary>Samples N(<see cref="Mean"/>, <see cref="Stddev"/>²) (Keras <c>RandomNormal</c>, <c>"random_normal"</c>, <c>"normal"</c>; defaults 0 and 0.05).</summary>
public sealed record RandomNormal : RandomInitializer
{
    /// <summary>Creates the initializer with Keras's defaults: mean 0, stddev 0.05.</summary>
    public RandomNormal(double mean = 0.0, double stddev = 0.05, int? seed = null) : base(seed)
    {
        Mean = mean;
        Stddev = stddev;
    }

    /// <summary>The mean of the values.</summary>
    public double Mean { get; init => field = Finite(value, "mean"); }

    /// <summary>The standard deviation of the values.</summary>
    public double Stddev { get; init => field = NonNegative(value, "stddev"); }
}

/// <summary>Samples U[<see cref="Minval"/>, <see cref="Maxval"/>) (Keras <c>RandomUniform</c>, <c>"random_uniform"</c>, <c>"uniform"</c>; defaults −0.05 and 0.05).</summary>
public sealed record RandomUniform : RandomInitializer
{
    /// <summary>Creates the initializer with Keras's defaults: [−0.05, 0.05).</summary>
    public RandomUniform(double minval = -0.05, double maxval = 0.05, int? seed = null) : base(seed)
    {
        Minval = minval;
        Maxval = maxval;
        Validate();
    }

    /// <summary>The lower bound (inclusive).</summary>
    public double Minval { get; init => field = Finite(value, "minval"); }

    /// <summary>The upper bound (exclusive).</summary>
    public double Maxval { get; init => field = Finite(value, "maxval"); }

    /// <inheritdoc />
    public override void CheckShape(IReadOnlyList<int> shape)
    {
        base.CheckShape(shape);
        Validate();
    }

    private void Validate()
    {
        if (Minval > Maxval)
            throw new ArgumentException(
                $"{ClassName}: expected argument 'minval' to be at most 'maxval'. Received: minval={Format(Minval)}, maxval={Format(Maxval)}.", "minval");
    }
}

/// <summary>
/// Samples N(<see cref="Mean"/>, <see cref="Stddev"/>²) with every value more than two standard deviations from the mean
/// discarded and re-drawn (Keras <c>TruncatedNormal</c>, <c>"truncated_normal"</c>; defaults 0 and 0.05). The values'
/// actual standard deviation is therefore about 0.88·stddev.
/// </summary>
public sealed record TruncatedNormal : RandomInitializer
{
    /// <summary>Creates the initializer with Keras's defaults: mean 0, stddev 0.05.</summary>
    public TruncatedNormal(double mean = 0.0, double stddev = 0.05, int? seed = null) : base(seed)
    {
        Mean = mean;
        Stddev = stddev;
    }

    /// <summary>The mean of the values.</summary>
    public double Mean { get; init => field = Finite(value, "mean"); }

    /// <summary>The standard deviation of the normal before truncation.</summary>
    public double Stddev { get; init => field = NonNegative(value, "stddev"); }

    /// <summary>
    /// The standard deviation of a standard normal truncated to (−2, 2): √(1 − 4φ(2)/(2Φ(2) − 1)) = 0.87962566103423978.
    /// Keras divides by it so that <see cref="VarianceScaling"/>'s truncated draws have the intended variance.
    /// </summary>
    public const double TruncatedStddevFactor = 0.87962566103423978;
}

/// <summary>
/// Keras's <c>VarianceScaling</c> (<c>"variance_scaling"</c>): values whose variance is <see cref="Scale"/>/n, where n is
/// fan_in, fan_out or their average (<see cref="Mode"/>). With <c>truncated_normal</c> the normal's stddev is
/// √(scale/n)/0.87962566103423978 before truncation at two stddevs; with <c>untruncated_normal</c> it is √(scale/n);
/// with <c>uniform</c> the values are U[−√(3·scale/n), √(3·scale/n)). n is at least 1.
/// </summary>
/// <remarks>Defaults as Keras: scale 1, <c>fan_in</c>, <c>truncated_normal</c> (<c>"normal"</c> is an alias of it).</remarks>
public record VarianceScaling : RandomInitializer
{
    /// <summary>The modes Keras accepts.</summary>
    public static readonly IReadOnlyList<string> Modes = ["fan_in", "fan_out", "fan_avg"];

    /// <summary>The distributions Keras accepts (after lower-casing and mapping <c>normal</c> to <c>truncated_normal</c>).</summary>
    public static readonly IReadOnlyList<string> Distributions = ["truncated_normal", "untruncated_normal", "uniform"];

    /// <summary>Creates the initializer; every argument is validated as Keras does.</summary>
    public VarianceScaling(double scale = 1.0, string mode = "fan_in", string distribution = "truncated_normal", int? seed = null)
        : base(seed)
    {
        Scale = scale;
        Mode = mode;
        Distribution = distribution;
    }

    /// <summary>The variance factor; strictly positive.</summary>
    public double Scale
    {
        get;
        init => field = double.IsFinite(value) && value > 0
            ? value
            : throw new ArgumentException(
                $"{ClassName}: Argument `scale` must be positive float. Received: scale={Format(value)}.", "scale");
    }

    /// <summary><c>fan_in</c>, <c>fan_out</c> or <c>fan_avg</c> (case-sensitive, as in Keras).</summary>
    public string Mode
    {
        get;
        init => field = value is not null && Modes.Contains(value)
            ? value
            : throw new ArgumentException(
                $"{ClassName}: Invalid `mode` argument: {Format(value)}. Please use one of {{{string.Join(", ", Modes.Select(m => $"'{m}'"))}}}.", "mode");
    }

    /// <summary><c>truncated_normal</c>, <c>untruncated_normal</c> or <c>uniform</c>; lower-cased, and <c>normal</c> means <c>truncated_normal</c>.</summary>
    public string Distribution
    {
        get;
        init
        {
            var d = value?.ToLowerInvariant();
            if (d == "normal") d = "truncated_normal";
            field = d is not null && Distributions.Contains(d)
                ? d
                : throw new ArgumentException(
                    $"{ClassName}: Invalid `distribution` argument: {Format(value)}. Please use one of {{{string.Join(", ", Distributions.Select(m => $"'{m}'"))}}}.", "distribution");
        }
    }

    /// <summary>scale / max(1, n) for a weight of this Keras-layout shape: the variance of the values drawn.</summary>
    public double Variance(IReadOnlyList<int> shape)
    {
        var (fanIn, fanOut) = ComputeFans(shape);
        var n = Mode switch
        {
            "fan_in" => fanIn,
            "fan_out" => fanOut,
            _ => (fanIn + fanOut) / 2.0,
        };
        return Scale / Math.Max(1.0, n);
    }

    /// <summary>
    /// The parameter of the distribution for this shape: the normal's stddev before truncation (√variance / 0.8796… for
    /// <c>truncated_normal</c>, √variance for <c>untruncated_normal</c>) or the uniform's limit √(3·variance).
    /// </summary>
    public double DistributionParameter(IReadOnlyList<int> shape)
    {
        var v = Variance(shape);
        return Distribution switch
        {
            "truncated_normal" => Math.Sqrt(v) / TruncatedNormal.TruncatedStddevFactor,
            "untruncated_normal" => Math.Sqrt(v),
            _ => Math.Sqrt(3.0 * v),
        };
    }
}

/// <summary>Glorot (Xavier) uniform: U[−limit, limit) with limit = √(6 / (fan_in + fan_out)) (Keras <c>GlorotUniform</c>; the default kernel initializer).</summary>
public sealed record GlorotUniform : VarianceScaling
{
    /// <summary>VarianceScaling(scale 1, <c>fan_avg</c>, <c>uniform</c>).</summary>
    public GlorotUniform(int? seed = null) : base(1.0, "fan_avg", "uniform", seed) { }
}

/// <summary>Glorot (Xavier) normal: truncated normal with stddev √(2 / (fan_in + fan_out)) after truncation (Keras <c>GlorotNormal</c>).</summary>
public sealed record GlorotNormal : VarianceScaling
{
    /// <summary>VarianceScaling(scale 1, <c>fan_avg</c>, <c>truncated_normal</c>).</summary>
    public GlorotNormal(int? seed = null) : base(1.0, "fan_avg", "truncated_normal", seed) { }
}

/// <summary>LeCun uniform: U[−limit, limit) with limit = √(3 / fan_in) (Keras <c>LecunUniform</c>).</summary>
public sealed record LecunUniform : VarianceScaling
{
    /// <summary>VarianceScaling(scale 1, <c>fan_in</c>, <c>uniform</c>).</summary>
    public LecunUniform(int? seed = null) : base(1.0, "fan_in", "uniform", seed) { }
}

/// <summary>LeCun normal: truncated normal with stddev √(1 / fan_in) after truncation (Keras <c>LecunNormal</c>).</summary>
public sealed record LecunNormal : VarianceScaling
{
    /// <summary>VarianceScaling(scale 1, <c>fan_in</c>, <c>truncated_normal</c>).</summary>
    public LecunNormal(int? seed = null) : base(1.0, "fan_in", "truncated_normal", seed) { }
}

/// <summary>He uniform: U[−limit, limit) with limit = √(6 / fan_in) (Keras <c>HeUniform</c>).</summary>
public sealed record HeUniform : VarianceScaling
{
    /// <summary>VarianceScaling(scale 2, <c>fan_in</c>, <c>uniform</c>).</summary>
    public HeUniform(int? seed = null) : base(2.0, "fan_in", "uniform", seed) { }
}

/// <summary>He normal: truncated normal with stddev √(2 / fan_in) after truncation (Keras <c>HeNormal</c>).</summary>
public sealed record HeNormal : VarianceScaling
{
    /// <summary>VarianceScaling(scale 2, <c>fan_in</c>, <c>truncated_normal</c>).</summary>
    public HeNormal(int? seed = null) : base(2.0, "fan_in", "truncated_normal", seed) { }
}

/// <summary>
/// A (semi-)orthogonal matrix times <see cref="Gain"/> (Keras <c>Orthogonal</c>, <c>"orthogonal"</c>, legacy
/// <c>OrthogonalInitializer</c>). The weight is viewed as a (shape[0]·…·shape[−2], shape[−1]) matrix; it is the Q of the QR
/// decomposition of a standard normal matrix (signs fixed by R's diagonal), so it has orthonormal columns, or orthonormal
/// rows when it has fewer rows than columns. Weights of rank below 2 are rejected, as in Keras.
/// </summary>
public sealed record Orthogonal : RandomInitializer
{
    /// <summary>Creates the initializer; Keras's default gain is 1.</summary>
    public Orthogonal(double gain = 1.0, int? seed = null) : base(seed) => Gain = gain;

    /// <summary>The multiplicative factor applied to the orthogonal matrix.</summary>
    public double Gain { get; init => field = Finite(value, "gain"); }

    /// <inheritdoc />
    public override bool IsElementwise => false;

    /// <inheritdoc />
    public override void CheckShape(IReadOnlyList<int> shape)
    {
        base.CheckShape(shape);
        if (shape.Count < 2)
            throw new ArgumentException(
                "The tensor to initialize must be at least two-dimensional. " +
                $"Received: shape={FormatShape(shape)} of rank {shape.Count}.", nameof(shape));
    }
}

/// <summary>
/// Looks initializers up by Keras's string identifiers, as <c>keras.initializers.get</c> does: every class name
/// (<c>GlorotUniform</c>) and its snake-case form (<c>glorot_uniform</c>), plus Keras's aliases <c>uniform</c>,
/// <c>normal</c>, <c>one</c>, <c>zero</c> and the legacy class name <c>OrthogonalInitializer</c>.
/// Each lookup returns a new instance with the class's defaults.
/// </summary>
/// <remarks>Unlike Keras, lookups ignore case and surrounding spaces (as activation names do here).</remarks>
public static class Initializers
{
    private static readonly Dictionary<string, Func<Initializer>> ByName = new(StringComparer.OrdinalIgnoreCase);

    static Initializers()
    {
        void Add(string className, Func<Initializer> factory)
        {
            ByName[className] = factory;
            ByName[Naming.ToSnakeCase(className)] = factory;
        }
        Add("Zeros", () => new Zeros());
        Add("Ones", () => new Ones());
        Add("Constant", () => new Constant());
        Add("Identity", () => new Identity());
        Add("RandomNormal", () => new RandomNormal());
        Add("RandomUniform", () => new RandomUniform());
        Add("TruncatedNormal", () => new TruncatedNormal());
        Add("VarianceScaling", () => new VarianceScaling());
        Add("GlorotUniform", () => new GlorotUniform());
        Add("GlorotNormal", () => new GlorotNormal());
        Add("LecunUniform", () => new LecunUniform());
        Add("LecunNormal", () => new LecunNormal());
        Add("HeUniform", () => new HeUniform());
        Add("HeNormal", () => new HeNormal());
        Add("Orthogonal", () => new Orthogonal());
        Add("OrthogonalInitializer", () => new Orthogonal());
        ByName["uniform"] = () => new RandomUniform();
        ByName["normal"] = () => new RandomNormal();
        ByName["one"] = () => new Ones();
        ByName["zero"] = () => new Zeros();
    }

    /// <summary>Every identifier <see cref="Get"/> accepts.</summary>
    public static IEnumerable<string> KnownNames
    {
        get { lock (ByName) return [.. ByName.Keys.Order(StringComparer.Ordinal)]; }
    }

    /// <summary>Registers another initializer under an identifier (the extension point for custom initializers).</summary>
    public static void Register(string name, Func<Initializer> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (ByName) ByName[name.Trim()] = factory;
    }

    /// <summary>The initializer a Keras identifier names, with Keras's defaults.</summary>
    /// <exception cref="ArgumentException">The identifier is unknown; the message names it.</exception>
    public static Initializer Get(string name)
    {
        Func<Initializer>? factory;
        lock (ByName) ByName.TryGetValue(name?.Trim() ?? "", out factory);
        return factory is not null
            ? factory()
            : throw new ArgumentException(
                $"Could not interpret initializer identifier: {Padding.Quote(name)}. Known: {string.Join(", ", KnownNames)}.", "initializer");
    }
}
