using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// What Keras's recurrent cells share (keras/src/layers/rnn/simple_rnn.py, lstm.py, gru.py: <c>SimpleRNNCell</c>,
/// <c>LSTMCell</c>, <c>GRUCell</c>): one step's weights and dropout. A cell runs inside <see cref="RNN"/>, which loops it
/// over a sequence; <c>RNN(LSTMCell(u))</c> computes what <c>LSTM(u)</c> computes, with the same weights.
/// </summary>
public abstract record RecurrentCell : Layer
{
    /// <summary>The <c>kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The <c>recurrent_kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions RecurrentKernel => new(RecurrentInitializer, RecurrentRegularizer, RecurrentConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);

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

    /// <summary>Fraction of the input features dropped in training, in [0, 1].</summary>
    public double Dropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("dropout", value, "a float value between 0 and 1"); }

    /// <summary>Fraction of the recurrent state dropped in training, in [0, 1].</summary>
    public double RecurrentDropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("recurrentDropout", value, "a float value between 0 and 1"); }

    /// <summary>Seed of the dropout masks; null draws from the call's generator.</summary>
    public int? Seed { get; init; }

    /// <summary>The recurrent layer that loops this cell with an RNN's sequence arguments.</summary>
    internal abstract RecurrentLayer Loop(bool returnSequences, bool returnState, bool goBackwards, bool stateful, bool unroll, bool zeroOutputForMask);

    /// <summary>A cell's input is one step, <c>(features)</c>; its output <c>(units)</c>.</summary>
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != 1) throw ShapeError(input, null, $"a cell takes one step of shape (features); found rank {input.Rank}.");
        return new Shape(Units);
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShape(input);
        return Loop(false, false, false, false, false, false).Parameters(new Shape(new int?[] { null, input[0] }));
    }
}

/// <summary>The cell of <see cref="SimpleRNN"/> (Keras <c>SimpleRNNCell</c>).</summary>
public sealed record SimpleRNNCell : RecurrentCell
{
    /// <summary>Keras's defaults, as <see cref="SimpleRNN"/>'s.</summary>
    public SimpleRNNCell(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? recurrentConstraint = null, Constraint? biasConstraint = null,
        double dropout = 0.0, double recurrentDropout = 0.0, int? seed = null)
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
        KernelConstraint = kernelConstraint;
        RecurrentConstraint = recurrentConstraint;
        BiasConstraint = biasConstraint;
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        Seed = seed;
    }

    internal override RecurrentLayer Loop(bool returnSequences, bool returnState, bool goBackwards, bool stateful, bool unroll, bool zeroOutputForMask) =>
        new SimpleRNN(Units, Activation, UseBias, KernelInitializer, RecurrentInitializer, BiasInitializer, KernelRegularizer,
            RecurrentRegularizer, BiasRegularizer, null, KernelConstraint, RecurrentConstraint, BiasConstraint, Dropout, RecurrentDropout,
            returnSequences, returnState, goBackwards, stateful, unroll, Seed, zeroOutputForMask) { Name = Name, Dtype = Dtype, Trainable = Trainable };
}

/// <summary>The cell of <see cref="LSTM"/> (Keras <c>LSTMCell</c>); two states, h and c.</summary>
public sealed record LSTMCell : RecurrentCell
{
    /// <summary>Keras's defaults, as <see cref="LSTM"/>'s.</summary>
    public LSTMCell(int units, ActivationFunction? activation = null, ActivationFunction? recurrentActivation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        bool unitForgetBias = true, Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null,
        Regularizer? biasRegularizer = null, Constraint? kernelConstraint = null, Constraint? recurrentConstraint = null,
        Constraint? biasConstraint = null, double dropout = 0.0, double recurrentDropout = 0.0, int? seed = null)
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
        KernelConstraint = kernelConstraint;
        RecurrentConstraint = recurrentConstraint;
        BiasConstraint = biasConstraint;
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        Seed = seed;
    }

    /// <summary>The activation of the input, forget and output gates; <c>sigmoid</c> by default.</summary>
    public ActivationFunction RecurrentActivation { get; init => field = value ?? throw ArgumentError("recurrentActivation", null, "an activation"); }

    /// <summary>Keras's <c>unit_forget_bias</c> (default true).</summary>
    public bool UnitForgetBias { get; init; }

    internal override RecurrentLayer Loop(bool returnSequences, bool returnState, bool goBackwards, bool stateful, bool unroll, bool zeroOutputForMask) =>
        new LSTM(Units, Activation, RecurrentActivation, UseBias, KernelInitializer, RecurrentInitializer, BiasInitializer, UnitForgetBias,
            KernelRegularizer, RecurrentRegularizer, BiasRegularizer, null, KernelConstraint, RecurrentConstraint, BiasConstraint, Dropout,
            RecurrentDropout, Seed, returnSequences, returnState, goBackwards, stateful, unroll, zeroOutputForMask) { Name = Name, Dtype = Dtype, Trainable = Trainable };
}

/// <summary>The cell of <see cref="GRU"/> (Keras <c>GRUCell</c>).</summary>
public sealed record GRUCell : RecurrentCell
{
    /// <summary>Keras's defaults, as <see cref="GRU"/>'s (<c>reset_after</c> true).</summary>
    public GRUCell(int units, ActivationFunction? activation = null, ActivationFunction? recurrentActivation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? recurrentConstraint = null, Constraint? biasConstraint = null,
        double dropout = 0.0, double recurrentDropout = 0.0, bool resetAfter = true, int? seed = null)
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
        KernelConstraint = kernelConstraint;
        RecurrentConstraint = recurrentConstraint;
        BiasConstraint = biasConstraint;
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        ResetAfter = resetAfter;
        Seed = seed;
    }

    /// <summary>The activation of the update and reset gates; <c>sigmoid</c> by default.</summary>
    public ActivationFunction RecurrentActivation { get; init => field = value ?? throw ArgumentError("recurrentActivation", null, "an activation"); }

    /// <summary>Keras's <c>reset_after</c> (default true).</summary>
    public bool ResetAfter { get; init; }

    internal override RecurrentLayer Loop(bool returnSequences, bool returnState, bool goBackwards, bool stateful, bool unroll, bool zeroOutputForMask) =>
        new GRU(Units, Activation, RecurrentActivation, UseBias, KernelInitializer, RecurrentInitializer, BiasInitializer, KernelRegularizer,
            RecurrentRegularizer, BiasRegularizer, null, KernelConstraint, RecurrentConstraint, BiasConstraint, Dropout, RecurrentDropout, Seed,
            returnSequences, returnState, goBackwards, stateful, unroll, ResetAfter, zeroOutputForMask) { Name = Name, Dtype = Dtype, Trainable = Trainable };
}

/// <summary>
/// Cells run one after another at each step (Keras <c>StackedRNNCells</c>): the first reads the step's input, each next one
/// the previous one's output; the stack's states are every cell's, in order.
/// </summary>
public sealed record StackedRNNCells : Layer
{
    /// <summary>Stacks <paramref name="cells"/> (at least one), first to last.</summary>
    public StackedRNNCells(params RecurrentCell[] cells) => Cells = cells;

    /// <summary>The cells, first to last.</summary>
    public RecurrentCell[] Cells
    {
        get;
        init => field = value is { Length: > 0 } && value.All(c => c is not null) ? [.. value]
            : throw ArgumentError("cells", value is null ? null : $"a list of {value.Length}", "a non-empty list of cells (SimpleRNNCell, LSTMCell, GRUCell)");
    }

    /// <summary>The last cell's output, <c>(units)</c>, for one step <c>(features)</c>.</summary>
    public override Shape ComputeOutputShape(Shape input)
    {
        var shape = input;
        foreach (var cell in Cells) shape = cell.ComputeOutputShape(shape);
        return shape;
    }

    /// <summary>Every cell's weights, each under its cell's name (<c>lstm_cell/kernel</c>, <c>lstm_cell_1/kernel</c>, …).</summary>
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        var specs = new List<ParameterSpec>();
        var shape = input;
        foreach (var (cell, name) in Cells.Zip(CellNames()))
        {
            specs.AddRange(cell.Parameters(shape).Select(p => p with { Name = $"{name}/{p.Name}" }));
            shape = cell.ComputeOutputShape(shape);
        }
        return specs;
    }

    /// <summary>Each cell's name: its own, or Keras's default stem numbered within the stack (<c>lstm_cell</c>, <c>lstm_cell_1</c>).</summary>
    public IReadOnlyList<string> CellNames()
    {
        var counts = new Dictionary<string, int>();
        return [.. Cells.Select(c =>
        {
            if (c.Name is { } n) return n;
            var stem = c.DefaultNameStem;
            var k = counts.GetValueOrDefault(stem);
            counts[stem] = k + 1;
            return k == 0 ? stem : $"{stem}_{k}";
        })];
    }

    /// <inheritdoc />
    public bool Equals(StackedRNNCells? other) => other is not null && base.Equals(other) && Cells.SequenceEqual(other.Cells);

    /// <inheritdoc />
    public override int GetHashCode() => Cells.Aggregate(base.GetHashCode(), (h, c) => HashCode.Combine(h, c));
}

/// <summary>
/// Loops a cell, or a <see cref="StackedRNNCells"/>, over a sequence (Keras <c>RNN</c>), with the sequence arguments of
/// <see cref="RecurrentLayer"/>. <c>RNN(new LSTMCell(u))</c> computes what <c>LSTM(u)</c> does (the fused kernel
/// included) with the same weight names; a stack's weights are named by cell (<c>lstm_cell/kernel</c>, …) and its states,
/// with <see cref="ReturnState"/>, are every cell's in order.
/// </summary>
public sealed record RNN : Layer
{
    /// <summary>Keras's defaults: the last output only, no states, forwards, not stateful, not unrolled.</summary>
    public RNN(Layer cell, bool returnSequences = false, bool returnState = false, bool goBackwards = false, bool stateful = false,
        bool unroll = false, bool zeroOutputForMask = false)
    {
        Cell = cell;
        ReturnSequences = returnSequences;
        ReturnState = returnState;
        GoBackwards = goBackwards;
        Stateful = stateful;
        Unroll = unroll;
        ZeroOutputForMask = zeroOutputForMask;
    }

    /// <summary>The cell: a <see cref="SimpleRNNCell"/>, <see cref="LSTMCell"/>, <see cref="GRUCell"/> or <see cref="StackedRNNCells"/>.</summary>
    public Layer Cell
    {
        get;
        init => field = value is RecurrentCell or StackedRNNCells ? value
            : throw ArgumentError("cell", value?.ClassName, "a cell (SimpleRNNCell, LSTMCell, GRUCell) or StackedRNNCells");
    }

    /// <summary>Whether the output is the whole sequence (default false).</summary>
    public bool ReturnSequences { get; init; }
    /// <summary>Whether the final states follow the output (default false).</summary>
    public bool ReturnState { get; init; }
    /// <summary>Whether the sequence is processed last step first.</summary>
    public bool GoBackwards { get; init; }
    /// <summary>Whether states carry over between calls (see <see cref="RecurrentLayer.Stateful"/>).</summary>
    public bool Stateful { get; init; }
    /// <summary>Keras's <c>unroll</c>: same numbers; needs known timesteps.</summary>
    public bool Unroll { get; init; }
    /// <summary>Keras's <c>zero_output_for_mask</c>.</summary>
    public bool ZeroOutputForMask { get; init; }

    /// <inheritdoc />
    public override bool SupportsMasking => true;

    private RecurrentCell[] CellList => Cell is StackedRNNCells s ? s.Cells : [(RecurrentCell)Cell];

    /// <summary>The recurrent layers this RNN runs, one per cell, first to last: each returns its sequence to the next;
    /// the first goes backwards when this RNN does (the later ones then read the steps in processing order). Named by cell
    /// for a stack, under this RNN's dtype policy and frozen when it is.</summary>
    public IReadOnlyList<RecurrentLayer> Loops()
    {
        var cells = CellList;
        var names = Cell is StackedRNNCells s ? s.CellNames() : null;
        return [.. cells.Select((c, i) => c.Loop(i < cells.Length - 1 || ReturnSequences, ReturnState, i == 0 && GoBackwards, Stateful, Unroll, ZeroOutputForMask)
            with { Name = names?[i], Dtype = Dtype, Trainable = Trainable && c.Trainable })];
    }

    /// <inheritdoc />
    public override int OutputCount => 1 + (ReturnState ? CellList.Sum(c => c.Loop(false, false, false, false, false, false).StateCount) : 0);

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => ComputeOutputShapes([input])[0];

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs) => ComputeOutputShapes(inputs)[0];

    /// <inheritdoc />
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 1) throw new ShapeException(this, inputs, null, $"expects exactly one input (the sequence), got {inputs.Count}.");
        var shape = inputs[0];
        var states = new List<Shape>();
        foreach (var loop in Loops())
        {
            var outs = loop.ComputeOutputShapes([shape]);
            states.AddRange(outs.Skip(1));
            shape = outs[0];
        }
        return [shape, .. states];
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShapes([input]);
        var specs = new List<ParameterSpec>();
        var shape = input;
        foreach (var loop in Loops())
        {
            specs.AddRange(loop.Parameters(shape).Select(p => loop.Name is { } n ? p with { Name = $"{n}/{p.Name}" } : p));
            shape = loop.ComputeOutputShapes([shape])[0];
            if (shape.Rank == 1) shape = new Shape(new int?[] { input[0], shape[0] });
        }
        return specs;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs) =>
        inputs.Count == 1 ? Parameters(inputs[0]) : throw new ShapeException(this, inputs, null, $"expects exactly one input, got {inputs.Count}.");
}
