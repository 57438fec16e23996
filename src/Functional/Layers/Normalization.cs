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
/// </remarks>
public sealed record BatchNormalization : Layer
{
    /// <summary>Creates the layer with Keras's defaults: axis −1, momentum 0.99, epsilon 1e-3, center and scale, β zeros, γ ones,
    /// moving mean zeros, moving variance ones.</summary>
    public BatchNormalization(int axis = -1, double momentum = 0.99, double epsilon = 1e-3, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Initializer? movingMeanInitializer = null, Initializer? movingVarianceInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null,
        Constraint? betaConstraint = null, Constraint? gammaConstraint = null)
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
        var c = new Shape(input[ChannelAxis(input)]);
        var specs = new List<ParameterSpec>(4);
        if (Scale) specs.Add(new("gamma", c, GammaInitializer, true, GammaRegularizer, GammaConstraint));
        if (Center) specs.Add(new("beta", c, BetaInitializer, true, BetaRegularizer, BetaConstraint));
        specs.Add(new("moving_mean", c, MovingMeanInitializer, Trainable: false));
        specs.Add(new("moving_variance", c, MovingVarianceInitializer, Trainable: false));
        return specs;
    }
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
        var shape = new Shape(SampleAxes(input).Select(a => input[a]));
        var specs = new List<ParameterSpec>(2);
        if (Scale || RmsScaling) specs.Add(new("gamma", shape, GammaInitializer, true, GammaRegularizer, GammaConstraint));
        if (Center && !RmsScaling) specs.Add(new("beta", shape, BetaInitializer, true, BetaRegularizer, BetaConstraint));
        return specs;
    }
}
