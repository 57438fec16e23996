using Functional.Shapes;
namespace Functional.Functions;

/// <summary>
/// A Keras activation function, by name and as a value (<c>ActivationFunction.Relu</c> or <c>"relu"</c>).
/// Names are normalised as Keras does (<c>swish</c> is <c>silu</c>, <c>None</c>/<c>null</c> is <c>linear</c>).
/// </summary>
/// <remarks>The function itself runs in Functional.Torch; this record is its pure, serialisable identity.</remarks>
public sealed record ActivationFunction
{
    // The catalogue, in one place: each activation is defined once below (its static property, its Keras name, its aliases,
    // whether it reduces over an axis); the known names, the axis-dependent set and the kernels of Functional.Torch (keyed
    // by these instances) all come from it. `Define` runs as the static properties are initialised, in textual order.
    private static readonly Dictionary<string, string> Names = [];
    private static readonly HashSet<string> AxisDependent = [];

    private static ActivationFunction Define(string name, bool axisDependent = false, params string[] aliases)
    {
        Names[name] = name;
        foreach (var alias in aliases) Names[alias] = name;
        if (axisDependent) AxisDependent.Add(name);
        return new ActivationFunction(name, trusted: true);
    }

    private ActivationFunction(string name, bool trusted) => Name = name;

    /// <summary>Keras's activation names (and aliases) mapped to the canonical name each stands for.</summary>
    public static IReadOnlyDictionary<string, string> KnownNames { get { _ = All; return Names; } }

    /// <summary>Activations that reduce over an axis (<c>softmax</c>, <c>log_softmax</c>, <c>sparsemax</c>).</summary>
    public static IReadOnlySet<string> AxisDependentNames { get { _ = All; return AxisDependent; } }

    private static readonly IReadOnlyDictionary<string, string> UnusableByName = new Dictionary<string, string>
    {
        ["glu"] = "Keras's 'glu' halves the size of its axis, so it cannot serve as a shape-preserving layer activation",
        ["threshold"] = "Keras's 'threshold' has no default for its arguments 'threshold' and 'default_value', so it cannot be used by name",
    };

    /// <summary>The canonical Keras name.</summary>
    public string Name { get; }

    /// <summary>Looks an activation up by its Keras name.</summary>
    /// <exception cref="ArgumentException">The name is not a Keras activation.</exception>
    public ActivationFunction(string? name)
    {
        var key = (name ?? "linear").Trim().ToLowerInvariant();
        if (key == "none") key = "linear";
        if (KnownNames.TryGetValue(key, out var canonical))
            Name = canonical;
        else if (UnusableByName.TryGetValue(key, out var reason))
            throw new ArgumentException($"{reason}. Received: activation={Padding.Quote(name)}.", "activation");
        else
            throw new ArgumentException(
                $"Could not interpret activation function identifier: {Padding.Quote(name)}. " +
                $"Expected argument 'activation' to be one of {string.Join(", ", KnownNames.Keys.Select(k => $"'{k}'"))}. " +
                $"Received: activation={Padding.Quote(name)}.",
                "activation");
    }

    /// <summary>True when the activation normalises along an axis (softmax, log_softmax, sparsemax).</summary>
    public bool IsAxisDependent => AxisDependentNames.Contains(Name);

    /// <summary>True for <c>linear</c>, the identity.</summary>
    public bool IsLinear => Name == "linear";

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Converts a Keras activation name.</summary>
    public static implicit operator ActivationFunction(string name) => OptionConversion.Convert(name, n => new ActivationFunction(n));

#pragma warning disable CS1591 // the names say it
    public static ActivationFunction Linear { get; } = Define("linear");
    public static ActivationFunction Relu { get; } = Define("relu");
    public static ActivationFunction Relu6 { get; } = Define("relu6");
    public static ActivationFunction LeakyRelu { get; } = Define("leaky_relu");
    public static ActivationFunction Sigmoid { get; } = Define("sigmoid");
    public static ActivationFunction HardSigmoid { get; } = Define("hard_sigmoid");
    /// <summary>
    /// Keras 2's <c>hard_sigmoid</c>, clip(0.2·x + 0.5, 0, 1) — Keras 3 redefined the name as relu6(x + 3)/6. Models read
    /// from Keras 1/2 files get this one wherever their config says <c>hard_sigmoid</c> (Keras 2's default recurrent
    /// activation), so they compute what they were trained with; written back under this name.
    /// </summary>
    public static ActivationFunction HardSigmoidKeras2 { get; } = Define("hard_sigmoid_keras2");
    public static ActivationFunction SparseSigmoid { get; } = Define("sparse_sigmoid");
    public static ActivationFunction LogSigmoid { get; } = Define("log_sigmoid");
    public static ActivationFunction Tanh { get; } = Define("tanh");
    public static ActivationFunction HardTanh { get; } = Define("hard_tanh");
    public static ActivationFunction TanhShrink { get; } = Define("tanh_shrink");
    public static ActivationFunction Softmax { get; } = Define("softmax", axisDependent: true);
    public static ActivationFunction LogSoftmax { get; } = Define("log_softmax", axisDependent: true);
    public static ActivationFunction Sparsemax { get; } = Define("sparsemax", axisDependent: true);
    public static ActivationFunction Elu { get; } = Define("elu");
    public static ActivationFunction Selu { get; } = Define("selu");
    public static ActivationFunction Celu { get; } = Define("celu");
    public static ActivationFunction Gelu { get; } = Define("gelu");
    public static ActivationFunction Softplus { get; } = Define("softplus");
    public static ActivationFunction Softsign { get; } = Define("softsign");
    public static ActivationFunction Squareplus { get; } = Define("squareplus");
    public static ActivationFunction SparsePlus { get; } = Define("sparse_plus");
    public static ActivationFunction SoftShrink { get; } = Define("soft_shrink");
    public static ActivationFunction HardShrink { get; } = Define("hard_shrink");
    public static ActivationFunction Silu { get; } = Define("silu", false, "swish");
    public static ActivationFunction HardSilu { get; } = Define("hard_silu", false, "hard_swish");
    public static ActivationFunction Exponential { get; } = Define("exponential");
    public static ActivationFunction Mish { get; } = Define("mish");
    public static ActivationFunction Swish => Silu;
    public static ActivationFunction HardSwish => HardSilu;

    /// <summary>Every activation, once each (aliases excluded), in the catalogue's order.</summary>
    public static IReadOnlyList<ActivationFunction> All { get; } = [Linear, Relu, Relu6, LeakyRelu, Sigmoid, HardSigmoid, SparseSigmoid, LogSigmoid, Tanh, HardTanh, TanhShrink, Softmax, LogSoftmax, Sparsemax, Elu, Selu, Celu, Gelu, Softplus, Softsign, Squareplus, SparsePlus, SoftShrink, HardShrink, Silu, HardSilu, Exponential, Mish];
#pragma warning restore CS1591
}
