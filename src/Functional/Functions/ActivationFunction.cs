namespace Functional;

/// <summary>
/// A Keras activation function, by name and as a value (<c>ActivationFunction.Relu</c> or <c>"relu"</c>).
/// Names are normalised as Keras does (<c>swish</c> is <c>silu</c>, <c>None</c>/<c>null</c> is <c>linear</c>).
/// </summary>
/// <remarks>The function itself runs in Functional.Torch; this record is its pure, serialisable identity.</remarks>
public sealed record ActivationFunction
{
    /// <summary>Every activation name Keras accepts, with aliases resolved to their canonical name.</summary>
    public static readonly IReadOnlyDictionary<string, string> KnownNames = new Dictionary<string, string>
    {
        ["linear"] = "linear", ["relu"] = "relu", ["relu6"] = "relu6", ["sigmoid"] = "sigmoid",
        ["hard_sigmoid"] = "hard_sigmoid", ["tanh"] = "tanh", ["softmax"] = "softmax", ["log_softmax"] = "log_softmax",
        ["elu"] = "elu", ["selu"] = "selu", ["softplus"] = "softplus", ["softsign"] = "softsign",
        ["gelu"] = "gelu", ["silu"] = "silu", ["swish"] = "silu", ["hard_silu"] = "hard_silu", ["hard_swish"] = "hard_silu",
        ["leaky_relu"] = "leaky_relu", ["exponential"] = "exponential", ["mish"] = "mish",
    };

    /// <summary>The canonical Keras name.</summary>
    public string Name { get; }

    /// <summary>Looks an activation up by its Keras name.</summary>
    /// <exception cref="ArgumentException">The name is not a Keras activation.</exception>
    public ActivationFunction(string? name)
    {
        var key = (name ?? "linear").Trim().ToLowerInvariant();
        if (key == "none") key = "linear";
        Name = KnownNames.TryGetValue(key, out var canonical)
            ? canonical
            : throw new ArgumentException(
                $"Expected argument 'activation' to be one of {string.Join(", ", KnownNames.Keys.Select(k => $"'{k}'"))}. Received: activation={Padding.Quote(name)}.",
                "activation");
    }

    /// <summary>True for <c>linear</c>, the identity.</summary>
    public bool IsLinear => Name == "linear";

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Converts a Keras activation name.</summary>
    public static implicit operator ActivationFunction(string name) => new(name);

#pragma warning disable CS1591 // the names say it
    public static ActivationFunction Linear => new("linear");
    public static ActivationFunction Relu => new("relu");
    public static ActivationFunction Relu6 => new("relu6");
    public static ActivationFunction Sigmoid => new("sigmoid");
    public static ActivationFunction HardSigmoid => new("hard_sigmoid");
    public static ActivationFunction Tanh => new("tanh");
    public static ActivationFunction Softmax => new("softmax");
    public static ActivationFunction LogSoftmax => new("log_softmax");
    public static ActivationFunction Elu => new("elu");
    public static ActivationFunction Selu => new("selu");
    public static ActivationFunction Softplus => new("softplus");
    public static ActivationFunction Softsign => new("softsign");
    public static ActivationFunction Gelu => new("gelu");
    public static ActivationFunction Silu => new("silu");
    public static ActivationFunction Swish => new("silu");
    public static ActivationFunction HardSilu => new("hard_silu");
    public static ActivationFunction LeakyRelu => new("leaky_relu");
    public static ActivationFunction Exponential => new("exponential");
    public static ActivationFunction Mish => new("mish");
#pragma warning restore CS1591
}
