using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Normalises each channel with batch statistics in training and moving statistics at inference (Keras <c>BatchNormalization</c>):
/// <c>γ · (x − mean) / √(var + ε) + β</c>.
/// </summary>
/// <remarks>
/// <para>Training (and a trainable layer): mean and <em>biased</em> variance over every axis but <see cref="Axis"/>; then
/// <c>moving_mean ← moving_mean·momentum + mean·(1 − momentum)</c> and likewise for <c>moving_variance</c>, as Keras does.
/// Inference, or a frozen layer (Keras: <c>trainable=False</c> means inference mode): the moving statistics.</para>
/// <para>Weights, each of shape <c>(C,)</c> with C the size of <see cref="Axis"/>, in Keras's order: <c>gamma</c> (if
/// <see cref="Scale"/>), <c>beta</c> (if <see cref="Center"/>), then the non-trainable <c>moving_mean</c> and
/// <c>moving_variance</c> — 4·C parameters, 2·C of them non-trainable, by default.</para>
/// <para><see cref="Axis"/> counts the batch axis as Keras does: <c>-1</c> (channels_last, the default) or <c>1</c> after a
/// <c>channels_first</c> convolution.</para>
/// <para>With <see cref="Renorm"/> (Keras 3's batch renormalization, Ioffe 2017): three more non-trainable weights of shape
/// <c>(C,)</c> follow, <c>moving_stddev</c>, <c>renorm_mean</c> and <c>renorm_stddev</c> — 7·C parameters, 5·C of them
/// non-trainable. See <see cref="Renorm"/> for the training-mode formula; inference is unchanged.</para>
/// </remarks>
public sealed record BatchNormalization : Layer
{
    /// <summary>The <c>gamma</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Gamma => new(GammaInitializer, GammaRegularizer, GammaConstraint);
    /// <summary>The <c>beta</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Beta => new(BetaInitializer, BetaRegularizer, BetaConstraint);


    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer with Keras's defaults: axis −1, momentum 0.99, epsilon 1e-3, center and scale, β zeros, γ ones,
    /// moving mean zeros, moving variance ones, no renorm (renorm momentum 0.99, no clipping), not synchronized.</summary>
    public BatchNormalization(int axis = -1, double momentum = 0.99, double epsilon = 1e-3, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Initializer? movingMeanInitializer = null, Initializer? movingVarianceInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null,
        Constraint? betaConstraint = null, Constraint? gammaConstraint = null,
        bool renorm = false, RenormClipping? renormClipping = null, double renormMomentum = 0.99, bool synchronized = false)
    {
        Axis = axis;
        Momentum = momentum;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        MovingMeanInitializer = movingMeanInitializer ?? new Zeros();
        MovingVarianceInitializer = movingVarianceInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
        BetaConstraint = betaConstraint;
        GammaConstraint = gammaConstraint;
        Renorm = renorm;
        RenormClipping = renormClipping;
        RenormMomentum = renormMomentum;
        Synchronized = synchronized;
    }

    /// <summary>The axis normalised per channel, counting the batch axis (−1 = last).</summary>
    public int Axis { get; init; }

    /// <summary>The moving-average momentum, in [0, 1].</summary>
    public double Momentum
    {
        get;
        init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("momentum", value, "a float in [0, 1] (`momentum` must be between 0 and 1)");
    }

    /// <summary>Added to the variance before the square root; a non-negative finite float.</summary>
    public double Epsilon
    {
        get;
        init => field = double.IsFinite(value) && value >= 0 ? value : throw ArgumentError("epsilon", value, "a non-negative finite float");
    }

    /// <summary>Whether the offset β is added (default true).</summary>
    public bool Center { get; init; }

    /// <summary>Whether the output is multiplied by γ (default true).</summary>
    public bool Scale { get; init; }

    /// <summary>β's initializer; zeros by default.</summary>
    public Initializer BetaInitializer { get; init => field = value ?? throw ArgumentError("betaInitializer", null, "an initializer"); }

    /// <summary>γ's initializer; ones by default.</summary>
    public Initializer GammaInitializer { get; init => field = value ?? throw ArgumentError("gammaInitializer", null, "an initializer"); }

    /// <summary>The moving mean's initializer; zeros by default.</summary>
    public Initializer MovingMeanInitializer { get; init => field = value ?? throw ArgumentError("movingMeanInitializer", null, "an initializer"); }

    /// <summary>The moving variance's initializer; ones by default.</summary>
    public Initializer MovingVarianceInitializer { get; init => field = value ?? throw ArgumentError("movingVarianceInitializer", null, "an initializer"); }

    /// <summary>Penalty on β; none by default.</summary>
    public Regularizer? BetaRegularizer { get; init; }

    /// <summary>Penalty on γ; none by default.</summary>
    public Regularizer? GammaRegularizer { get; init; }

    /// <summary>Constraint on β; none by default.</summary>
    public Constraint? BetaConstraint { get; init; }

    /// <summary>Constraint on γ; none by default.</summary>
    public Constraint? GammaConstraint { get; init; }

    /// <summary>
    /// Keras's <c>renorm</c>: batch renormalization (https://arxiv.org/abs/1702.03275); false by default. In training the
    /// batch-normalised value x̂ = (x − mean) / √(var + ε) becomes <c>γ · (x̂ · r + d) + β</c> with
    /// <c>r = √(var + ε) / s</c> and <c>d = (mean − renorm_mean) / s</c>, <c>s = max(renorm_stddev, √ε)</c>, clipped by
    /// <see cref="RenormClipping"/> and treated as constants by the gradient. Then <c>renorm_mean</c> and <c>renorm_stddev</c>
    /// move towards the batch's mean and √(var + ε) with <see cref="RenormMomentum"/>, <c>moving_mean</c> and
    /// <c>moving_stddev</c> with <see cref="Momentum"/>, and <c>moving_variance = relu(moving_stddev² − ε)</c>. Inference
    /// uses <c>moving_mean</c> and <c>moving_variance</c>, as without renorm. <c>moving_stddev</c> and <c>renorm_stddev</c>
    /// start at the square root of the moving-variance initializer's values, <c>renorm_mean</c> at the moving mean's.
    /// </summary>
    public bool Renorm { get; init; }

    /// <summary>
    /// Keras's <c>renorm_clipping</c>: bounds on the renorm correction — <c>r</c> within [rmin, rmax], <c>d</c> within
    /// [−dmax, dmax]; a bound left out does not clip (Keras's 0, ∞, ∞). <c>null</c> (the default) clips nothing. Only used
    /// with <see cref="Renorm"/>. Rejected, naming the layer and argument, when rmax &lt; rmin, dmax &lt; 0 or a bound is not finite.
    /// </summary>
    public RenormClipping? RenormClipping
    {
        get;
        init => field = value switch
        {
            null or { RMax: null, RMin: null, DMax: null } => null,
            { } given when given.Entries().Any(e => !double.IsFinite(e.Value)) =>
                throw ArgumentError("renormClipping", value, "a clipping with finite bounds (leave a bound out not to clip)"),
            { RMax: { } max, RMin: { } min } when max < min =>
                throw ArgumentError("renormClipping", value, "a clipping with rmax >= rmin (rmax should be greater than rmin)"),
            { DMax: < 0 } => throw ArgumentError("renormClipping", value, "a clipping with a non-negative dmax"),
            _ => value,
        };
    }

    /// <summary>Keras's <c>renorm_momentum</c>, in [0, 1]: the momentum of <c>renorm_mean</c> and <c>renorm_stddev</c>; 0.99 by
    /// default. Only used with <see cref="Renorm"/>; <see cref="Momentum"/> still drives the inference statistics.</summary>
    public double RenormMomentum
    {
        get;
        init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("renormMomentum", value, "a float in [0, 1] (`renorm_momentum` must be between 0 and 1)");
    }

    /// <summary>
    /// Keras's <c>synchronized</c>: whether the batch statistics are reduced across every device of a distributed
    /// training step. Accepted and saved in the config; this library trains on one device, where synchronised statistics
    /// are the local ones, so the layer computes exactly as with <c>false</c>. (Keras itself rejects <c>true</c> outside
    /// its TensorFlow backend.)
    /// </summary>
    public bool Synchronized { get; init; }

    /// <summary>The per-sample index (batch excluded) of the normalised axis for an input of this shape.</summary>
    /// <exception cref="ShapeException">The axis is the batch axis or outside the input's rank.</exception>
    public int ChannelAxis(Shape input)
    {
        var a = KerasAxes.ToSampleAxis(Axis, input.Rank);
        if (a is null)
            throw ShapeError(input, null, $"axis {Axis} is out of bounds for an input of rank {input.Rank + 1} (batch included). Received: axis={Axis}.");
        if (a < 0)
            throw ShapeError(input, null, $"axis {Axis} is the batch axis; normalise a per-sample axis instead (e.g. -1, or 1 for channels_first).");
        return a.Value;
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        ChannelAxis(input);
        return input;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        var c = new Shape(KnownDim(input, ChannelAxis(input), "normalized axis"));
        var specs = new List<ParameterSpec>(4);
        if (Scale) specs.Add(Gamma.Declare("gamma", c));
        if (Center) specs.Add(Beta.Declare("beta", c));
        specs.Add(new("moving_mean", c, MovingMeanInitializer, Trainable: false));
        specs.Add(new("moving_variance", c, MovingVarianceInitializer, Trainable: false));
        if (Renorm)
        {
            // Keras: the two standard deviations start at √(a draw of the moving-variance initializer); the builder takes the root.
            specs.Add(new("moving_stddev", c, MovingVarianceInitializer, Trainable: false));
            specs.Add(new("renorm_mean", c, MovingMeanInitializer, Trainable: false));
            specs.Add(new("renorm_stddev", c, MovingVarianceInitializer, Trainable: false));
        }
        return specs;
    }
}

/// <summary>
/// Keras's <c>renorm_clipping</c> dictionary for <see cref="BatchNormalization"/>: the optional keys <c>rmax</c>,
/// <c>rmin</c> and <c>dmax</c>. The renorm correction <c>(r, d)</c>, used as <c>x̂ · r + d</c>, has <c>r</c> clipped to
/// [rmin, rmax] and <c>d</c> to [−dmax, dmax]; a missing bound does not clip. In a config it is the JSON object
/// <c>{"rmax": 3.0, "rmin": 0.3333, "dmax": 5.0}</c> with only the given keys.
/// </summary>
/// <param name="RMax">The upper bound of r, or none.</param>
/// <param name="RMin">The lower bound of r, or none.</param>
/// <param name="DMax">The bound of |d|, or none.</param>
public sealed record RenormClipping(double? RMax = null, double? RMin = null, double? DMax = null)
{
    /// <summary>Keras's config keys, in the order Keras lists them.</summary>
    public static IReadOnlyList<string> Keys { get; } = ["rmax", "rmin", "dmax"];

    /// <summary>The given bounds as (Keras key, value) pairs, in <see cref="Keys"/> order.</summary>
    public IEnumerable<(string Key, double Value)> Entries()
    {
        if (RMax is { } rmax) yield return ("rmax", rmax);
        if (RMin is { } rmin) yield return ("rmin", rmin);
        if (DMax is { } dmax) yield return ("dmax", dmax);
    }

    /// <summary>As Keras prints the dictionary: <c>{'rmax': 3.0, 'dmax': 5.0}</c>.</summary>
    public override string ToString() => "{" + string.Join(", ", Entries().Select(e => $"'{e.Key}': {Layer.FormatValue(e.Value)}")) + "}";
}

/// <summary>
/// Normalises each sample over <see cref="Axis"/> (Keras <c>LayerNormalization</c>): <c>γ · (x − mean) / √(var + ε) + β</c>
/// with the mean and biased variance taken per sample over the given axes.
/// </summary>
/// <remarks>
/// <para>Weights: <c>gamma</c> (if <see cref="Scale"/> or <see cref="RmsScaling"/>) then <c>beta</c> (if <see cref="Center"/> and
/// not <see cref="RmsScaling"/>), each of shape <c>(input[axis] for axis in Axis)</c> in the order the axes are given.</para>
/// <para>With <see cref="RmsScaling"/>, Keras 3 computes <c>x · γ / √(var + ε)</c> with the (centered) variance and no β.</para>
/// </remarks>
public sealed record LayerNormalization : Layer
{
    /// <summary>The <c>gamma</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Gamma => new(GammaInitializer, GammaRegularizer, GammaConstraint);
    /// <summary>The <c>beta</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Beta => new(BetaInitializer, BetaRegularizer, BetaConstraint);


    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer with Keras's defaults: axis −1, epsilon 1e-3, center and scale, no RMS scaling, β zeros, γ ones.</summary>
    public LayerNormalization(IntTuple axis = default, double epsilon = 1e-3, bool center = true, bool scale = true, bool rmsScaling = false,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null,
        Constraint? betaConstraint = null, Constraint? gammaConstraint = null)
    {
        Axis = axis.Count == 0 ? -1 : axis;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        RmsScaling = rmsScaling;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
        BetaConstraint = betaConstraint;
        GammaConstraint = gammaConstraint;
    }

    /// <summary>The axis or axes to normalise over, counting the batch axis (−1 = last).</summary>
    public IntTuple Axis
    {
        get;
        init => field = value.Count > 0 ? value : throw ArgumentError("axis", "()", "an integer or a non-empty tuple of integers");
    }

    /// <summary>Added to the variance before the square root; a non-negative finite float.</summary>
    public double Epsilon
    {
        get;
        init => field = double.IsFinite(value) && value >= 0 ? value : throw ArgumentError("epsilon", value, "a non-negative finite float");
    }

    /// <summary>Whether β is added (default true).</summary>
    public bool Center { get; init; }

    /// <summary>Whether the output is multiplied by γ (default true).</summary>
    public bool Scale { get; init; }

    /// <summary>Keras 3's <c>rms_scaling</c>: scale by γ / √(var + ε) only; <see cref="Center"/> and <see cref="Scale"/> are ignored.</summary>
    public bool RmsScaling { get; init; }

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

    /// <summary>The per-sample indices (batch excluded) of the normalised axes, in the order given.</summary>
    /// <exception cref="ShapeException">An axis is out of bounds, the batch axis, or repeated.</exception>
    public int[] SampleAxes(Shape input)
    {
        // Bounds first, for every axis, as Keras's compute_output_shape does.
        foreach (var axis in Axis)
            if (KerasAxes.ToSampleAxis(axis, input.Rank) is null)
                throw ShapeError(input, null, $"axis {axis} is out of bounds for input shape {input} (rank {input.Rank + 1} with the batch axis). Received: axis={Axis}.");
        var result = new int[Axis.Count];
        for (var i = 0; i < Axis.Count; i++)
        {
            var a = KerasAxes.ToSampleAxis(Axis[i], input.Rank)!;
            if (a < 0)
                throw ShapeError(input, null, $"axis {Axis[i]} is the batch axis; layer normalisation is per sample. Received: axis={Axis}.");
            if (result.Take(i).Contains(a.Value))
                throw ShapeError(input, a.Value, $"axis {Axis[i]} is given more than once. Received: axis={Axis}.");
            result[i] = a.Value;
        }
        return result;
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        SampleAxes(input);
        return input;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        var shape = new Shape(SampleAxes(input).Select(a => KnownDim(input, a, "normalized axis")));
        var specs = new List<ParameterSpec>(2);
        if (Scale || RmsScaling) specs.Add(Gamma.Declare("gamma", shape));
        if (Center && !RmsScaling) specs.Add(Beta.Declare("beta", shape));
        return specs;
    }
}
