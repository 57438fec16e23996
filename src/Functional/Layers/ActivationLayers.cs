using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Rectified linear unit with Keras's options (Keras <c>ReLU</c>). Shape unchanged, no parameters.
/// </summary>
/// <remarks>
/// Keras's formula, exactly: <c>f(x) = clip(x · [x &gt; threshold], 0, max_value) − negative_slope · max(threshold − x, 0)</c>
/// (with <c>threshold = 0</c> the first term is <c>relu(x)</c>); so <c>f(x) = max_value</c> for <c>x ≥ max_value</c>,
/// <c>x</c> for <c>threshold &lt; x &lt; max_value</c> and <c>negative_slope · (x − threshold)</c> below the threshold.
/// </remarks>
public sealed record ReLU : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras's defaults: no maximum, slope 0, threshold 0 (plain relu).</summary>
    /// <exception cref="ArgumentException">A negative (or non-finite) value.</exception>
    public ReLU(double? maxValue = null, double negativeSlope = 0.0, double threshold = 0.0)
    {
        MaxValue = maxValue;
        NegativeSlope = negativeSlope;
        Threshold = threshold;
    }

    /// <summary>The largest output, or <c>null</c> for none; ≥ 0.</summary>
    public double? MaxValue
    {
        get;
        init => field = value is null || (value >= 0 && !double.IsNaN(value.Value))
            ? value
            : throw ArgumentError("maxValue", value, "a float >= 0 or None (max_value of a ReLU layer cannot be a negative value)");
    }

    /// <summary>The slope below the threshold; ≥ 0.</summary>
    public double NegativeSlope
    {
        get;
        init => field = double.IsFinite(value) && value >= 0
            ? value
            : throw ArgumentError("negativeSlope", value, "a finite float >= 0 (negative_slope of a ReLU layer cannot be a negative value)");
    }

    /// <summary>Inputs at or below it are in the negative part; ≥ 0.</summary>
    public double Threshold
    {
        get;
        init => field = double.IsFinite(value) && value >= 0
            ? value
            : throw ArgumentError("threshold", value, "a finite float >= 0 (threshold of a ReLU layer cannot be a negative value)");
    }

    /// <summary>Keras's piecewise formula on one value (the reference the built layer is tested against).</summary>
    public double Apply(double x)
    {
        var pos = Threshold != 0 ? (x > Threshold ? x : 0.0) : Math.Max(x, 0.0);
        if (MaxValue is { } m) pos = Math.Clamp(pos, 0.0, m);
        return NegativeSlope == 0 ? pos : pos - NegativeSlope * Math.Max(Threshold - x, 0.0);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary><c>f(x) = x</c> for <c>x ≥ 0</c>, <c>negative_slope · x</c> otherwise (Keras <c>LeakyReLU</c>). Shape unchanged, no parameters.</summary>
/// <remarks>Keras 3's default slope is 0.3 (the <c>leaky_relu</c> activation function's default is 0.2).</remarks>
public sealed record LeakyReLU : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras 3's default slope is 0.3.</summary>
    public LeakyReLU(double negativeSlope = 0.3) => NegativeSlope = negativeSlope;

    /// <summary>The slope for negative inputs; ≥ 0.</summary>
    public double NegativeSlope
    {
        get;
        init => field = double.IsFinite(value) && value >= 0
            ? value
            : throw ArgumentError("negativeSlope", value, "a finite float >= 0 (the negative_slope value of a Leaky ReLU layer cannot be None or negative)");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>
/// Parametric ReLU: <c>f(x) = x</c> for <c>x ≥ 0</c>, <c>alpha · x</c> otherwise, with a learned <c>alpha</c> (Keras <c>PReLU</c>).
/// </summary>
/// <remarks>
/// <c>alpha</c> has the per-sample input shape with every axis in <see cref="SharedAxes"/> set to 1 (e.g. input
/// <c>(h, w, c)</c> with <c>sharedAxes = (1, 2)</c> gives <c>(1, 1, c)</c>); its size is the parameter count.
/// </remarks>
public sealed record PReLU : Layer
{
    /// <summary>The <c>alpha</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Alpha => new(AlphaInitializer, AlphaRegularizer, AlphaConstraint);


    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras's defaults: alpha initialised to zeros, no regularizer or constraint, nothing shared.</summary>
    public PReLU(Initializer? alphaInitializer = null, Regularizer? alphaRegularizer = null, Constraint? alphaConstraint = null,
        IntTuple sharedAxes = default)
    {
        AlphaInitializer = alphaInitializer ?? new Zeros();
        AlphaRegularizer = alphaRegularizer;
        AlphaConstraint = alphaConstraint;
        SharedAxes = sharedAxes;
    }

    /// <summary>alpha's initializer; zeros by default.</summary>
    public Initializer AlphaInitializer { get; init => field = value ?? throw ArgumentError("alphaInitializer", null, "an initializer (the `alpha_initializer` argument for PReLU cannot be None)"); }

    /// <summary>Penalty on alpha; none by default.</summary>
    public Regularizer? AlphaRegularizer { get; init; }

    /// <summary>Constraint on alpha; none by default.</summary>
    public Constraint? AlphaConstraint { get; init; }

    /// <summary>1-based per-sample axes along which alpha is shared (size 1); empty for none.</summary>
    public IntTuple SharedAxes
    {
        get;
        init => field = value.All(a => a >= 1)
            ? value
            : throw ArgumentError("sharedAxes", value.ToString(), "1-based per-sample axes (integers >= 1; the batch axis cannot be shared)");
    }

    /// <summary>alpha's shape for an input of this shape.</summary>
    /// <exception cref="ShapeException">A shared axis beyond the input's rank.</exception>
    public Shape AlphaShape(Shape input)
    {
        var dims = input.ToArray();
        foreach (var a in SharedAxes)
        {
            if (a > input.Rank)
                throw ShapeError(input, null, $"shared axis {a} does not exist in a per-sample input of rank {input.Rank}. Received: sharedAxes={SharedAxes}.");
            dims[a - 1] = 1;
        }
        return new Shape(dims);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        AlphaShape(input);
        return input;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        // Keras builds alpha over every axis not shared, so each of those must be known.
        var alpha = AlphaShape(input);
        for (var a = 0; a < alpha.Rank; a++) KnownDim(alpha, a, $"axis {a + 1} (not in sharedAxes={SharedAxes})");
        return [Alpha.Declare("alpha", alpha)];
    }
}

/// <summary>Exponential linear unit: <c>x</c> for <c>x &gt; 0</c>, <c>alpha · (exp(x) − 1)</c> otherwise (Keras <c>ELU</c>). Shape unchanged, no parameters.</summary>
/// <remarks>Input shape: any. Output shape: the same. No parameters. Computes x for x &gt; 0, else alpha·(exp(x) − 1).</remarks>
public sealed record ELU : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras's default alpha is 1.</summary>
    public ELU(double alpha = 1.0) => Alpha = alpha;

    /// <summary>The scale of the negative part.</summary>
    public double Alpha { get; init => field = double.IsFinite(value) ? value : throw ArgumentError("alpha", value, "a finite float"); }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>
/// Thresholded ReLU: <c>x</c> for <c>x &gt; theta</c>, 0 otherwise (Keras 2.x / tf.keras <c>ThresholdedReLU</c>). Shape unchanged, no parameters.
/// </summary>
/// <remarks>Keras 3 removed this layer (use <c>ReLU(threshold=theta)</c>, which differs only in clipping and slope options);
/// this follows Keras 2.x: theta defaults to 1 and must be ≥ 0.</remarks>
public sealed record ThresholdedReLU : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras 2's default theta is 1.</summary>
    public ThresholdedReLU(double theta = 1.0) => Theta = theta;

    /// <summary>The threshold; ≥ 0.</summary>
    public double Theta
    {
        get;
        init => field = double.IsFinite(value) && value >= 0
            ? value
            : throw ArgumentError("theta", value, "a finite float >= 0 (the theta value of a Thresholded ReLU layer should be >=0)");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>Softmax over <see cref="Axis"/> (Keras <c>Softmax</c>): <c>exp(x) / Σ exp(x)</c>. Shape unchanged, no parameters.</summary>
/// <remarks>Several axes normalise jointly over all of them (<c>exp(x − logsumexp(x, axes))</c>), as Keras does.
/// Axes count the batch axis (−1 = last). Keras's optional mask argument is not supported (no mask propagation yet).</remarks>
public sealed record Softmax : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras's default axis is −1.</summary>
    public Softmax(IntTuple axis = default) => Axis = axis.Count == 0 ? -1 : axis;

    /// <summary>The axis or axes normalised over.</summary>
    public IntTuple Axis { get; init => field = value.Count > 0 ? value : throw ArgumentError("axis", "()", "an integer or a non-empty tuple of integers"); }

    /// <summary>The tensor axes (batch = 0) normalised over for an input of this per-sample shape, sorted and distinct.</summary>
    /// <exception cref="ShapeException">An axis is out of bounds.</exception>
    public int[] TensorAxes(Shape input)
    {
        var result = new SortedSet<int>();
        foreach (var a in Axis)
        {
            var s = KerasAxes.ToSampleAxis(a, input.Rank)
                ?? throw ShapeError(input, null, $"axis {a} is out of bounds for an input of rank {input.Rank + 1} (batch included). Received: axis={Axis}.");
            result.Add(s + 1);
        }
        return [.. result];
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        TensorAxes(input);
        return input;
    }
}
