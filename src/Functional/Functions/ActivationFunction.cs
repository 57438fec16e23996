namespace Functional;

/// <summary>
/// A Keras activation function, by name and as a value (<c>ActivationFunction.Relu</c> or <c>"relu"</c>).
/// Names are normalised as Keras does (<c>swish</c> is <c>silu</c>, <c>None</c>/<c>null</c> is <c>linear</c>).
/// </summary>
/// <remarks>The function itself runs in Functional.Torch; this record is its pure, serialisable identity.</remarks>
public sealed record ActivationFunction
{
    /// <summary>
    /// Every activation name Keras 3's <c>keras.activations.get</c> accepts, with aliases (<c>swish</c>, <c>hard_swish</c>)
    /// resolved to their canonical name. Keras's <c>glu</c> (which halves an axis, so it is not shape-preserving) and
    /// <c>threshold</c> (which has no defaults for its arguments) cannot be used by name and are rejected with a reason.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> KnownNames = new Dictionary<string, string>
    {
        ["linear"] = "linear", ["relu"] = "relu", ["relu6"] = "relu6", ["leaky_relu"] = "leaky_relu",
        ["sigmoid"] = "sigmoid", ["hard_sigmoid"] = "hard_sigmoid", ["sparse_sigmoid"] = "sparse_sigmoid",
        ["log_sigmoid"] = "log_sigmoid", ["tanh"] = "tanh", ["hard_tanh"] = "hard_tanh", ["tanh_shrink"] = "tanh_shrink",
        ["softmax"] = "softmax", ["log_softmax"] = "log_softmax", ["sparsemax"] = "sparsemax",
        ["elu"] = "elu", ["selu"] = "selu", ["celu"] = "celu", ["gelu"] = "gelu",
        ["softplus"] = "softplus", ["softsign"] = "softsign", ["squareplus"] = "squareplus", ["sparse_plus"] = "sparse_plus",
        ["soft_shrink"] = "soft_shrink", ["hard_shrink"] = "hard_shrink",
        ["silu"] = "silu", ["swish"] = "silu", ["hard_silu"] = "hard_silu", ["hard_swish"] = "hard_silu",
        ["exponential"] = "exponential", ["mish"] = "mish",
    };

    /// <summary>The activations that normalise along an axis (so the tensor layout matters): softmax, log_softmax, sparsemax.</summary>
    public static readonly IReadOnlySet<string> AxisDependentNames = new HashSet<string> { "softmax", "log_softmax", "sparsemax" };

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
    public static ActivationFunction Linear => new("linear");
    public static ActivationFunction Relu => new("relu");
    public static ActivationFunction Relu6 => new("relu6");
    public static ActivationFunction LeakyRelu => new("leaky_relu");
    public static ActivationFunction Sigmoid => new("sigmoid");
    public static ActivationFunction HardSigmoid => new("hard_sigmoid");
    public static ActivationFunction SparseSigmoid => new("sparse_sigmoid");
    public static ActivationFunction LogSigmoid => new("log_sigmoid");
    public static ActivationFunction Tanh => new("tanh");
    public static ActivationFunction HardTanh => new("hard_tanh");
    public static ActivationFunction TanhShrink => new("tanh_shrink");
    public static ActivationFunction Softmax => new("softmax");
    public static ActivationFunction LogSoftmax => new("log_softmax");
    public static ActivationFunction Sparsemax => new("sparsemax");
    public static ActivationFunction Elu => new("elu");
    public static ActivationFunction Selu => new("selu");
    public static ActivationFunction Celu => new("celu");
    public static ActivationFunction Gelu => new("gelu");
    public static ActivationFunction Softplus => new("softplus");
    public static ActivationFunction Softsign => new("softsign");
    public static ActivationFunction Squareplus => new("squareplus");
    public static ActivationFunction SparsePlus => new("sparse_plus");
    public static ActivationFunction SoftShrink => new("soft_shrink");
    public static ActivationFunction HardShrink => new("hard_shrink");
    public static ActivationFunction Silu => new("silu");
    public static ActivationFunction Swish => new("silu");
    public static ActivationFunction HardSilu => new("hard_silu");
    public static ActivationFunction HardSwish => new("hard_silu");
    public static ActivationFunction Exponential => new("exponential");
    public static ActivationFunction Mish => new("mish");
#pragma warning restore CS1591
}
