using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// The base of Keras's spatial dropouts (<c>SpatialDropout1D/2D/3D</c>): in training, whole feature maps (channels) are
/// dropped — one keep/drop draw per sample and channel, shared by every step or pixel — and the rest scaled by
/// 1/(1 − rate). The identity at inference. Shape unchanged, no parameters.
/// </summary>
public abstract record SpatialDropout : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Sets the rate and seed.</summary>
    protected SpatialDropout(double rate, int? seed)
    {
        Rate = rate;
        Seed = seed;
    }

    /// <summary>The fraction of channels to drop, in [0, 1].</summary>
    public double Rate { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("rate", value, "a float value between 0 and 1"); }

    /// <summary>Seed for the masks; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <summary>The number of spatial axes (1, 2 or 3).</summary>
    public abstract int SpatialRank { get; }

    /// <summary>The per-sample axis of the channels.</summary>
    public abstract int ChannelAxis { get; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != SpatialRank + 1)
            throw ShapeError(input, null, $"expected ndim={SpatialRank + 2} (batch, {(SpatialRank == 1 ? "steps" : "spatial axes")}, channels), found ndim={input.Rank + 1}.");
        return input;
    }
}

/// <summary>Spatial 1D dropout (Keras <c>SpatialDropout1D</c>): drops whole channels of (steps, channels) inputs.</summary>
public sealed record SpatialDropout1D : SpatialDropout
{
    /// <summary>Creates the layer; <paramref name="rate"/> in [0, 1].</summary>
    public SpatialDropout1D(double rate, int? seed = null) : base(rate, seed) { }

    /// <inheritdoc />
    public override int SpatialRank => 1;

    /// <inheritdoc />
    public override int ChannelAxis => 1;
}

/// <summary>Spatial 2D dropout (Keras <c>SpatialDropout2D</c>): drops whole feature maps of images.</summary>
public sealed record SpatialDropout2D : SpatialDropout
{
    /// <summary>Creates the layer; <paramref name="rate"/> in [0, 1]; <c>channels_last</c> by default.</summary>
    public SpatialDropout2D(double rate, DataFormat dataFormat = default, int? seed = null) : base(rate, seed) => DataFormat = dataFormat;

    /// <summary>Where the channels are.</summary>
    public DataFormat DataFormat { get; init; }

    /// <inheritdoc />
    public override int SpatialRank => 2;

    /// <inheritdoc />
    public override int ChannelAxis => DataFormat.IsChannelsLast ? 2 : 0;
}

/// <summary>Spatial 3D dropout (Keras <c>SpatialDropout3D</c>): drops whole feature maps of volumes.</summary>
public sealed record SpatialDropout3D : SpatialDropout
{
    /// <summary>Creates the layer; <paramref name="rate"/> in [0, 1]; <c>channels_last</c> by default.</summary>
    public SpatialDropout3D(double rate, DataFormat dataFormat = default, int? seed = null) : base(rate, seed) => DataFormat = dataFormat;

    /// <summary>Where the channels are.</summary>
    public DataFormat DataFormat { get; init; }

    /// <inheritdoc />
    public override int SpatialRank => 3;

    /// <inheritdoc />
    public override int ChannelAxis => DataFormat.IsChannelsLast ? 3 : 0;
}

/// <summary>Adds zero-centred Gaussian noise of standard deviation <see cref="Stddev"/> in training (Keras
/// <c>GaussianNoise</c>); the identity at inference. Shape unchanged, no parameters.</summary>
public sealed record GaussianNoise : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras requires <paramref name="stddev"/> in [0, 1].</summary>
    public GaussianNoise(double stddev, int? seed = null)
    {
        Stddev = stddev;
        Seed = seed;
    }

    /// <summary>The noise's standard deviation, in [0, 1].</summary>
    public double Stddev { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("stddev", value, "a float value between 0 and 1"); }

    /// <summary>Seed for the noise; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>Multiplies by Gaussian noise of mean 1 and standard deviation √(rate / (1 − rate)) in training (Keras
/// <c>GaussianDropout</c>); the identity at inference. Shape unchanged, no parameters.</summary>
public sealed record GaussianDropout : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; <paramref name="rate"/> in [0, 1].</summary>
    public GaussianDropout(double rate, int? seed = null)
    {
        Rate = rate;
        Seed = seed;
    }

    /// <summary>The drop probability, in [0, 1].</summary>
    public double Rate { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("rate", value, "a float value between 0 and 1"); }

    /// <summary>Seed for the noise; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>
/// Dropout that keeps SELU's self-normalisation (Keras <c>AlphaDropout</c>): in training, dropped inputs are set to
/// α' = −λα (SELU's negative saturation) and the result is <c>a·x + b</c> with <c>a = ((1 − rate)(1 + rate·α'²))^−½</c>,
/// <c>b = −a·α'·rate</c>, so mean and variance are kept. The identity at inference. Shape unchanged, no parameters.
/// </summary>
public sealed record AlphaDropout : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; <paramref name="rate"/> in [0, 1].</summary>
    public AlphaDropout(double rate, IntTuple noiseShape = default, int? seed = null)
    {
        Rate = rate;
        NoiseShape = noiseShape;
        Seed = seed;
    }

    /// <summary>The drop probability, in [0, 1].</summary>
    public double Rate { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("rate", value, "a float value between 0 and 1"); }

    /// <summary>Keras's <c>noise_shape</c>, batch axis included, <c>-1</c> for None (as <see cref="Dropout.NoiseShape"/>);
    /// not given: one draw per element.</summary>
    public IntTuple NoiseShape
    {
        get;
        init => field = value.All(d => d == -1 || d >= 1) ? value
            : throw ArgumentError("noiseShape", value, "a tuple of positive integers, with -1 for None (the input's size on that axis)");
    }

    /// <summary>Seed for the masks; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (NoiseShape.Count == 0) return input;
        if (NoiseShape.Count != input.Rank + 1)
            throw ShapeError(input, null, $"noiseShape={NoiseShape} has {NoiseShape.Count} entries, but the input has rank {input.Rank + 1} counting the batch axis.");
        for (var d = 0; d < input.Rank; d++)
            if (NoiseShape[d + 1] is var n && n != -1 && n != 1 && input[d] is { } size && n != size)
                throw ShapeError(input, d, $"noiseShape={NoiseShape} cannot broadcast against the input: {n} on an axis of size {size}.");
        return input;
    }
}

/// <summary>Scales each sample to unit L2 norm over <see cref="Axis"/> (Keras <c>UnitNormalization</c>):
/// <c>x · min(1/√Σx², 1e12)</c>. Shape unchanged, no parameters.</summary>
public sealed record UnitNormalization : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; the last axis by default.</summary>
    public UnitNormalization(IntTuple axis = default) => Axis = axis.Count == 0 ? -1 : axis;

    /// <summary>The axis or axes to normalise over, counting the batch axis (−1 = last).</summary>
    public IntTuple Axis { get; init => field = value.Count > 0 ? value : throw ArgumentError("axis", "()", "an integer or a non-empty tuple of integers"); }

    /// <summary>The per-sample indices of the normalised axes.</summary>
    public int[] SampleAxes(Shape input)
    {
        var result = new List<int>();
        foreach (var axis in Axis)
        {
            var a = KerasAxes.ToSampleAxis(axis, input.Rank);
            if (a is null or < 0)
                throw ShapeError(input, null, $"axis {axis} is out of bounds or the batch axis for input shape {input}. Received: axis={Axis}.");
            if (result.Contains(a.Value)) throw ShapeError(input, a.Value, $"axis {axis} is given more than once. Received: axis={Axis}.");
            result.Add(a.Value);
        }
        return [.. result];
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        SampleAxes(input);
        return input;
    }
}

/// <summary>
/// Group normalisation (Keras <c>GroupNormalization</c>, Wu &amp; He 2018): the channels on <see cref="Axis"/> are split
/// into <see cref="Groups"/> groups, each sample is normalised by the mean and variance of each group (over the group's
/// channels and every other axis), then scaled by <c>gamma</c> and shifted by <c>beta</c> per channel.
/// </summary>
/// <remarks>Weights <c>gamma</c> then <c>beta</c>, each (channels,). <see cref="Groups"/> = −1 makes one group per channel
/// (instance normalisation); the channels must divide into the groups.</remarks>
public sealed record GroupNormalization : Layer
{
    /// <summary>The <c>gamma</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Gamma => new(GammaInitializer, GammaRegularizer, GammaConstraint);
    /// <summary>The <c>beta</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Beta => new(BetaInitializer, BetaRegularizer, BetaConstraint);

    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras defaults: 32 groups on the last axis, epsilon 1e-3, center and scale, β zeros, γ ones.</summary>
    public GroupNormalization(int groups = 32, int axis = -1, double epsilon = 1e-3, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null,
        Constraint? betaConstraint = null, Constraint? gammaConstraint = null)
    {
        Groups = groups;
        Axis = axis;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
        BetaConstraint = betaConstraint;
        GammaConstraint = gammaConstraint;
    }

    /// <summary>The number of groups; −1 for one per channel.</summary>
    public int Groups { get; init => field = value is > 0 or -1 ? value : throw ArgumentError("groups", value, "a positive integer or -1 (one group per channel)"); }

    /// <summary>The channel axis, counting the batch axis (−1 = last).</summary>
    public int Axis { get; init => field = value != 0 ? value : throw ArgumentError("axis", value, "a non-batch axis"); }

    /// <summary>Added to the variance before the square root; a non-negative finite float.</summary>
    public double Epsilon { get; init => field = double.IsFinite(value) && value >= 0 ? value : throw ArgumentError("epsilon", value, "a non-negative finite float"); }

    /// <summary>Whether β is added (default true).</summary>
    public bool Center { get; init; }

    /// <summary>Whether the output is multiplied by γ (default true).</summary>
    public bool Scale { get; init; }

    /// <summary>β's initializer; zeros by default.</summary>
    public Initializer BetaInitializer { get; init => field = value ?? throw ArgumentError("betaInitializer", null, "an initializer"); }

    /// <summary>γ's initializer; ones by default.</summary>
    public Initializer GammaInitializer { get; init => field = value ?? throw ArgumentError("gammaInitializer", null, "an initializer"); }

    /// <summary>Penalty on β; none by default.</summary>
    public Regularizer? BetaRegularizer { get; init; }

    /// <summary>Penalty on γ; none by default.</summary>
    public Regularizer? GammaRegularizer { get; init; }

    /// <summary>Constraint on β; none by default.</summary>
    public Constraint? BetaConstraint { get; init; }

    /// <summary>Constraint on γ; none by default.</summary>
    public Constraint? GammaConstraint { get; init; }

    /// <summary>The per-sample channel axis, and the group count and channels once the channels are known (Keras's build checks).</summary>
    public (int Axis, int? Groups) Resolve(Shape input)
    {
        var a = KerasAxes.ToSampleAxis(Axis, input.Rank);
        if (a is null or < 0) throw ShapeError(input, null, $"axis {Axis} is out of bounds or the batch axis for input shape {input}.");
        if (input[a.Value] is not { } dim) return (a.Value, null);
        var groups = Groups == -1 ? dim : Groups;
        if (dim < groups)
            throw ShapeError(input, a.Value, $"Number of groups ({groups}) cannot be more than the number of channels ({dim}).");
        if (dim % groups != 0)
            throw ShapeError(input, a.Value, $"Number of groups ({groups}) must be a multiple of the number of channels ({dim}).");
        return (a.Value, groups);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        Resolve(input);
        return input;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        var (axis, _) = Resolve(input);
        var shape = new Shape(KnownDim(input, axis, $"axis {Axis} of the input tensor"));
        var specs = new List<ParameterSpec>(2);
        if (Scale) specs.Add(Gamma.Declare("gamma", shape));
        if (Center) specs.Add(Beta.Declare("beta", shape));
        return specs;
    }
}
