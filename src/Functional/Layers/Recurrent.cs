using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// What Keras's recurrent layers share (keras/src/layers/rnn/rnn.py and the cells of simple_rnn.py, lstm.py, gru.py): the
/// weight blocks of a cell, dropout, and <c>RNN</c>'s sequence arguments. The concrete layers are <see cref="SimpleRNN"/>,
/// <see cref="LSTM"/> and <see cref="GRU"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(timesteps, features)</c> per sample, timesteps usually unknown; the features must be known (they size
/// the kernel). Output: <c>(units)</c>, or <c>(timesteps, units)</c> with <see cref="ReturnSequences"/>; with
/// <see cref="ReturnState"/> the final states follow as more outputs, each <c>(units)</c> (call the layer with
/// <c>CallMany</c>). Further inputs after the sequence are Keras's <c>initial_state</c>, one <c>(units)</c> tensor per state.</para>
/// <para>Weights in Keras's layout and order: <c>kernel</c> (features, k·units), <c>recurrent_kernel</c> (units, k·units) and
/// <c>bias</c>, with k the number of gates (1, 4 or 3).</para>
/// <para>Masks: a step whose mask is false is skipped as Keras skips it — the states are carried over and the step's output
/// repeats the previous output (zeros before the first unmasked step, or always zeros with
/// <see cref="ZeroOutputForMask"/>). The output's mask is the input's with <see cref="ReturnSequences"/>, else none.</para>
/// </remarks>
public abstract record RecurrentLayer : Layer
{
    /// <summary>The <c>kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The <c>recurrent_kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions RecurrentKernel => new(RecurrentInitializer, RecurrentRegularizer, RecurrentConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);

    /// <summary>Keras's RNN sets <c>supports_masking</c>: a mask skips steps, and is kept for a returned sequence.</summary>
    public override bool SupportsMasking => true;

    /// <summary>The number of gates k: the kernels have k·units columns.</summary>
    public abstract int Gates { get; }

    /// <summary>The number of state tensors (Keras's <c>state_size</c>): 2 for LSTM (h, c), else 1.</summary>
    public virtual int StateCount => 1;

    /// <summary>The output width and state size.</summary>
    public int Units { get; init => field = value > 0 ? value : throw ArgumentError("units", value, "a strictly positive integer"); }

    /// <summary>The activation of the candidate state and the output; <c>tanh</c> by default.</summary>
    public ActivationFunction Activation { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); } = ActivationFunction.Tanh;

    /// <summary>Whether the cell has a bias (default true).</summary>
    public bool UseBias { get; init; }

    /// <summary>Kernel initializer; <c>glorot_uniform</c> by default.</summary>
    public Initializer KernelInitializer { get; init => field = value ?? throw ArgumentError("kernelInitializer", null, "an initializer"); } = new GlorotUniform();

    /// <summary>Recurrent kernel initializer; <c>orthogonal</c> by default.</summary>
    public Initializer RecurrentInitializer { get; init => field = value ?? throw ArgumentError("recurrentInitializer", null, "an initializer"); } = new Orthogonal();

    /// <summary>Bias initializer; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); } = new Zeros();

    /// <summary>Penalty on the kernel; none by default.</summary>
    public Regularizer? KernelRegularizer { get; init; }

    /// <summary>Penalty on the recurrent kernel; none by default.</summary>
    public Regularizer? RecurrentRegularizer { get; init; }

    /// <summary>Penalty on the bias; none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on the kernel; none by default.</summary>
    public Constraint? KernelConstraint { get; init; }

    /// <summary>Constraint on the recurrent kernel; none by default.</summary>
    public Constraint? RecurrentConstraint { get; init; }

    /// <summary>Constraint on the bias; none by default.</summary>
    public Constraint? BiasConstraint { get; init; }

    /// <summary>Fraction of the input features dropped in training (one mask per sequence, shared by every step), in [0, 1].</summary>
    public double Dropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("dropout", value, "a float value between 0 and 1"); }

    /// <summary>Fraction of the recurrent state dropped in training (one mask per sequence), in [0, 1].</summary>
    public double RecurrentDropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("recurrentDropout", value, "a float value between 0 and 1"); }

    /// <summary>Seed of the dropout masks; null draws from the call's generator.</summary>
    public int? Seed { get; init; }

    /// <summary>Whether the output is the whole sequence of outputs rather than the last one (default false).</summary>
    public bool ReturnSequences { get; init; }

    /// <summary>Whether the final states are returned after the output, as more outputs (default false).</summary>
    public bool ReturnState { get; init; }

    /// <summary>Whether the sequence is processed last step first; a returned sequence is then in that reversed order, as Keras's.</summary>
    public bool GoBackwards { get; init; }

    /// <summary>Whether the final states of a batch are the initial states of the next (kept by the built layer until
    /// its <c>ResetStates()</c>); the batch size must then stay the same.</summary>
    public bool Stateful { get; init; }

    /// <summary>Keras's <c>unroll</c>: accepted, and computes the same numbers (the per-step loop); needs known timesteps.</summary>
    public bool Unroll { get; init; }

    /// <summary>Keras's <c>zero_output_for_mask</c>: a masked step outputs zeros instead of repeating the previous output.</summary>
    public bool ZeroOutputForMask { get; init; }

    /// <inheritdoc />
    public override int OutputCount => ReturnState ? 1 + StateCount : 1;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => ComputeOutputShapes([input])[0];

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs) => ComputeOutputShapes(inputs)[0];

    /// <inheritdoc />
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 1 && inputs.Count != 1 + StateCount)
            throw new ShapeException(this, inputs, null,
                $"expects the sequence, optionally followed by {StateCount} initial state(s) (Keras's initial_state); got {inputs.Count} inputs.");
        var sequence = inputs[0];
        if (sequence.Rank != 2)
            throw ShapeError(sequence, null, $"expected a sequence of shape (timesteps, features), i.e. ndim=3 with the batch; found ndim={sequence.Rank + 1}.");
        if (Unroll && sequence[0] is null)
            throw ShapeError(sequence, 0, "cannot unroll a RNN if the time dimension is undefined; give the Input a known number of timesteps.");
        for (var i = 1; i < inputs.Count; i++)
            if (inputs[i].Rank != 1 || (inputs[i][0] is { } u && u != Units))
                throw new ShapeException(this, inputs, null, $"initial state {i - 1} must have shape ({Units}); found {inputs[i].ToSampleString()}.");
        var output = ReturnSequences ? new Shape(sequence[0], Units) : new Shape(Units);
        return ReturnState ? [output, .. Enumerable.Repeat(new Shape(Units), StateCount)] : [output];
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs)
    {
        ComputeOutputShapes(inputs);
        return Parameters(inputs[0]);
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShapes([input]);
        var features = KnownDim(input, -1, "last dimension (features) of the inputs to a recurrent layer");
        var specs = new List<ParameterSpec>
        {
            Kernel.Declare("kernel", new Shape(features, Gates * Units)),
            RecurrentKernel.Declare("recurrent_kernel", new Shape(Units, Gates * Units)),
        };
        if (UseBias) specs.Add(BiasSpec());
        return specs;
    }

    /// <summary>The <c>bias</c> weight's declaration.</summary>
    protected virtual ParameterSpec BiasSpec() => Bias.Declare("bias", new Shape(Gates * Units));
}

/// <summary>
/// Fully-connected RNN whose output is fed back as the next input (Keras <c>SimpleRNN</c>):
/// <c>h_t = activation(x_t · kernel + h_{t−1} · recurrent_kernel + bias)</c>.
/// </summary>
/// <remarks>Weights: <c>kernel</c> (features, units), <c>recurrent_kernel</c> (units, units), <c>bias</c> (units) —
/// units·(features + units) + units parameters. See <see cref="RecurrentLayer"/> for shapes and masks.</remarks>
public sealed record SimpleRNN : RecurrentLayer
{
    /// <summary>Keras's defaults: <c>tanh</c>, a bias, <c>glorot_uniform</c> kernel, <c>orthogonal</c> recurrent kernel, <c>zeros</c> bias.</summary>
    public SimpleRNN(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        Regularizer? activityRegularizer = null, Constraint? kernelConstraint = null, Constraint? recurrentConstraint = null,
        Constraint? biasConstraint = null, double dropout = 0.0, double recurrentDropout = 0.0, bool returnSequences = false,
        bool returnState = false, bool goBackwards = false, bool stateful = false, bool unroll = false, int? seed = null,
        bool zeroOutputForMask = false)
    {
        Units = units;
        Activation = activation ?? ActivationFunction.Tanh;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        RecurrentInitializer = recurrentInitializer ?? new Orthogonal();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        RecurrentRegularizer = recurrentRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        RecurrentConstraint = recurrentConstraint;
        BiasConstraint = biasConstraint;
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        ReturnSequences = returnSequences;
        ReturnState = returnState;
        GoBackwards = goBackwards;
        Stateful = stateful;
        Unroll = unroll;
        Seed = seed;
        ZeroOutputForMask = zeroOutputForMask;
    }

    /// <inheritdoc />
    public override int Gates => 1;
}

/// <summary>
/// Long Short-Term Memory layer, Hochreiter 1997 (Keras <c>LSTM</c>). Gates in Keras's order i, f, c, o:
/// <c>z = x_t · kernel + h_{t−1} · recurrent_kernel + bias</c>; <c>i, f, o = recurrent_activation(z_i, z_f, z_o)</c>;
/// <c>c_t = f·c_{t−1} + i·activation(z_c)</c>; <c>h_t = o·activation(c_t)</c>.
/// </summary>
/// <remarks>Weights: <c>kernel</c> (features, 4·units), <c>recurrent_kernel</c> (units, 4·units), <c>bias</c> (4·units) —
/// 4·(units·(features + units) + units) parameters. Two states, h and c. With the default activations and no recurrent
/// dropout, unrolling or mask, the layer runs libtorch's fused LSTM kernel. See <see cref="RecurrentLayer"/>.</remarks>
public sealed record LSTM : RecurrentLayer
{
    /// <summary>Keras's defaults: <c>tanh</c> and <c>sigmoid</c>, a bias with the forget gate's part starting at 1
    /// (<c>unit_forget_bias</c>), <c>glorot_uniform</c> kernel, <c>orthogonal</c> recurrent kernel, <c>zeros</c> bias.</summary>
    public LSTM(int units, ActivationFunction? activation = null, ActivationFunction? recurrentActivation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        bool unitForgetBias = true,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        Regularizer? activityRegularizer = null, Constraint? kernelConstraint = null, Constraint? recurrentConstraint = null,
        Constraint? biasConstraint = null, double dropout = 0.0, double recurrentDropout = 0.0, int? seed = null,
        bool returnSequences = false, bool returnState = false, bool goBackwards = false, bool stateful = false, bool unroll = false,
        bool zeroOutputForMask = false)
    {
        Units = units;
        Activation = activation ?? ActivationFunction.Tanh;
        RecurrentActivation = recurrentActivation ?? ActivationFunction.Sigmoid;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        RecurrentInitializer = recurrentInitializer ?? new Orthogonal();
        BiasInitializer = biasInitializer ?? new Zeros();
        UnitForgetBias = unitForgetBias;
        KernelRegularizer = kernelRegularizer;
        RecurrentRegularizer = recurrentRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        RecurrentConstraint = recurrentConstraint;
        BiasConstraint = biasConstraint;
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        Seed = seed;
        ReturnSequences = returnSequences;
        ReturnState = returnState;
        GoBackwards = goBackwards;
        Stateful = stateful;
        Unroll = unroll;
        ZeroOutputForMask = zeroOutputForMask;
    }

    /// <summary>The activation of the input, forget and output gates; <c>sigmoid</c> by default.</summary>
    public ActivationFunction RecurrentActivation { get; init => field = value ?? throw ArgumentError("recurrentActivation", null, "an activation"); }

    /// <summary>Keras's <c>unit_forget_bias</c> (default true): the forget gate's part of the bias starts at 1, the rest
    /// from <see cref="RecurrentLayer.BiasInitializer"/>.</summary>
    public bool UnitForgetBias { get; init; }

    /// <inheritdoc />
    public override int Gates => 4;

    /// <inheritdoc />
    public override int StateCount => 2;

    /// <inheritdoc />
    protected override ParameterSpec BiasSpec() =>
        UnitForgetBias
            ? new ParameterSpec("bias", new Shape(4 * Units), new UnitForgetBiasInitializer(BiasInitializer, Units), true, BiasRegularizer, BiasConstraint)
            : base.BiasSpec();
}

/// <summary>
/// Gated Recurrent Unit, Cho et al. 2014 (Keras <c>GRU</c>). Gates in Keras's order z (update), r (reset), h (candidate):
/// <c>z, r = recurrent_activation(x·W + b + h_{t−1}·U (+ b'))</c>; with <see cref="ResetAfter"/> (the default, CuDNN's
/// variant) <c>ĥ = activation(x·W_h + b_h + r·(h_{t−1}·U_h + b'_h))</c>, else <c>ĥ = activation(x·W_h + b_h + (r·h_{t−1})·U_h)</c>;
/// <c>h_t = z·h_{t−1} + (1 − z)·ĥ</c>.
/// </summary>
/// <remarks>Weights: <c>kernel</c> (features, 3·units), <c>recurrent_kernel</c> (units, 3·units), <c>bias</c> (2, 3·units)
/// with <see cref="ResetAfter"/> (input and recurrent biases) or (3·units) without — 3·(units·(features + units) + 2·units)
/// parameters by default. With the default activations, <c>reset_after</c> and no recurrent dropout, unrolling or mask, the
/// layer runs libtorch's fused GRU kernel. See <see cref="RecurrentLayer"/>.</remarks>
public sealed record GRU : RecurrentLayer
{
    /// <summary>Keras's defaults: <c>tanh</c> and <c>sigmoid</c>, a bias, <c>reset_after</c>, <c>glorot_uniform</c> kernel,
    /// <c>orthogonal</c> recurrent kernel, <c>zeros</c> bias.</summary>
    public GRU(int units, ActivationFunction? activation = null, ActivationFunction? recurrentActivation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        Regularizer? activityRegularizer = null, Constraint? kernelConstraint = null, Constraint? recurrentConstraint = null,
        Constraint? biasConstraint = null, double dropout = 0.0, double recurrentDropout = 0.0, int? seed = null,
        bool returnSequences = false, bool returnState = false, bool goBackwards = false, bool stateful = false, bool unroll = false,
        bool resetAfter = true, bool zeroOutputForMask = false)
    {
        Units = units;
        Activation = activation ?? ActivationFunction.Tanh;
        RecurrentActivation = recurrentActivation ?? ActivationFunction.Sigmoid;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        RecurrentInitializer = recurrentInitializer ?? new Orthogonal();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        RecurrentRegularizer = recurrentRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        RecurrentConstraint = recurrentConstraint;
        BiasConstraint = biasConstraint;
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        Seed = seed;
        ReturnSequences = returnSequences;
        ReturnState = returnState;
        GoBackwards = goBackwards;
        Stateful = stateful;
        Unroll = unroll;
        ResetAfter = resetAfter;
        ZeroOutputForMask = zeroOutputForMask;
    }

    /// <summary>The activation of the update and reset gates; <c>sigmoid</c> by default.</summary>
    public ActivationFunction RecurrentActivation { get; init => field = value ?? throw ArgumentError("recurrentActivation", null, "an activation"); }

    /// <summary>Keras's <c>reset_after</c> (default true): the reset gate applies after the recurrent product, with a
    /// separate recurrent bias (bias shape (2, 3·units)).</summary>
    public bool ResetAfter { get; init; }

    /// <inheritdoc />
    public override int Gates => 3;

    /// <inheritdoc />
    protected override ParameterSpec BiasSpec() =>
        ResetAfter ? Bias.Declare("bias", new Shape(2, 3 * Units)) : base.BiasSpec();
}

/// <summary>
/// The bias initializer Keras's LSTM cell builds when <c>unit_forget_bias</c> is set: <c>concat(inner(units), ones(units),
/// inner(2·units))</c>, so the forget gate starts at 1. Internal: configs keep the user's bias initializer.
/// </summary>
internal sealed record UnitForgetBiasInitializer(Initializer Inner, int Units) : Initializer
{
    /// <inheritdoc />
    public override void CheckShape(IReadOnlyList<int> shape)
    {
        base.CheckShape(shape);
        if (shape.Count != 1 || shape[0] != 4 * Units)
            throw new ArgumentException($"LSTM bias initializer: expected shape ({4 * Units},). Received: shape={FormatShape(shape)}.", nameof(shape));
    }
}
