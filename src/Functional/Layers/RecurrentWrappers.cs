using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Runs a recurrent layer over the sequence in both directions and merges the two (Keras <c>Bidirectional</c>,
/// keras/src/layers/rnn/bidirectional.py).
/// </summary>
/// <remarks>
/// <para>The forward layer is a copy of <see cref="Layer"/> named <c>forward_</c> + its name; the backward one is
/// <see cref="BackwardLayer"/> when given, else a copy with <c>go_backwards</c> flipped, named <c>backward_</c> + its name.
/// A returned sequence of the backward layer is reversed back before merging, so step t of both halves is step t of the input.</para>
/// <para><see cref="MergeMode"/>: <c>concat</c> (the default; the last axis doubles), <c>sum</c>, <c>mul</c>, <c>ave</c>, or
/// null (Keras's <c>None</c>: the two outputs are returned as they are, as two outputs). With <c>return_state</c> the forward
/// layer's final states follow, then the backward layer's.</para>
/// <para>Weights: the forward layer's, named <c>forward_lstm/kernel</c>, …, then the backward layer's — twice the wrapped layer's count.</para>
/// </remarks>
public sealed record Bidirectional : Layer
{
    private static readonly string[] MergeModes = ["sum", "mul", "concat", "ave"];

    /// <summary>Keras's defaults: <c>concat</c>, and a backward copy of <paramref name="layer"/>.</summary>
    public Bidirectional(RecurrentLayer layer, string? mergeMode = "concat", RecurrentLayer? backwardLayer = null)
    {
        Layer = layer;
        MergeMode = mergeMode;
        BackwardLayer = backwardLayer;
        Validate();
        EndConstruction();
    }

    private void Validate()
    {
        if (BackwardLayer is not { } b) return;
        if (b.GoBackwards == Layer.GoBackwards)
            throw new ArgumentException(
                $"{ClassName}: forward layer and backward layer should have different `go_backwards` value. Received: " +
                $"forward_layer.go_backwards={FormatValue(Layer.GoBackwards)}, backward_layer.go_backwards={FormatValue(b.GoBackwards)}.", "backwardLayer");
        foreach (var (name, f, g) in new[] { ("stateful", Layer.Stateful, b.Stateful), ("return_sequences", Layer.ReturnSequences, b.ReturnSequences), ("return_state", Layer.ReturnState, b.ReturnState) })
            if (f != g)
                throw new ArgumentException(
                    $"{ClassName}: forward layer and backward layer are expected to have the same value for attribute \"{name}\", got " +
                    $"\"{FormatValue(f)}\" for forward layer and \"{FormatValue(g)}\" for backward layer.", "backwardLayer");
        if (b.StateCount != Layer.StateCount)
            throw new ArgumentException($"{ClassName}: the backward layer ({b.ClassName}) must have as many states as the forward one ({Layer.ClassName}).", "backwardLayer");
    }

    /// <summary>The recurrent layer run forwards (Keras's <c>layer</c>).</summary>
    public RecurrentLayer Layer { get; init { field = value ?? throw ArgumentError("layer", null, "a recurrent layer (SimpleRNN, LSTM or GRU)"); Recheck(Validate); } }

    /// <summary>How the two outputs are combined: <c>concat</c>, <c>sum</c>, <c>mul</c>, <c>ave</c>, or null for none.</summary>
    public string? MergeMode
    {
        get;
        init => field = value is null || MergeModes.Contains(value) ? value
            : throw ArgumentError("mergeMode", value, "one of {'sum', 'mul', 'concat', 'ave', None}");
    }

    /// <summary>The layer run backwards, when not a copy of <see cref="Layer"/> (Keras's <c>backward_layer</c>).</summary>
    public RecurrentLayer? BackwardLayer { get; init { field = value; Recheck(Validate); } }

    /// <summary>The forward layer as it runs: <see cref="Layer"/> named <c>forward_</c> + its name, under this wrapper's dtype
    /// policy, and frozen when the wrapper is.</summary>
    public RecurrentLayer ForwardRun => Layer with
    {
        Name = "forward_" + (Layer.Name ?? Layer.DefaultNameStem), Dtype = Dtype, Trainable = Trainable && Layer.Trainable,
    };

    /// <summary>The backward layer as it runs: <see cref="BackwardLayer"/>, or <see cref="Layer"/> with <c>go_backwards</c>
    /// flipped, named <c>backward_</c> + its name (dtype and freezing as <see cref="ForwardRun"/>).</summary>
    public RecurrentLayer BackwardRun
    {
        get
        {
            var b = BackwardLayer ?? Layer with { GoBackwards = !Layer.GoBackwards };
            return b with { Name = "backward_" + (b.Name ?? b.DefaultNameStem), Dtype = Dtype, Trainable = Trainable && b.Trainable };
        }
    }

    /// <summary>Keras's <c>supports_masking</c>: the mask is given to both layers.</summary>
    public override bool SupportsMasking => true;

    private int Halves => MergeMode is null ? 2 : 1;

    /// <inheritdoc />
    public override int OutputCount => Halves + (Layer.ReturnState ? 2 * Layer.StateCount : 0);

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => ComputeOutputShapes([input])[0];

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs) => ComputeOutputShapes(inputs)[0];

    /// <inheritdoc />
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 1) throw new ShapeException(this, inputs, null, $"expects exactly one input (the sequence), got {inputs.Count}.");
        var forward = ForwardRun.ComputeOutputShapes(inputs);
        var backward = BackwardRun.ComputeOutputShapes(inputs);
        var output = forward[0];
        var merged = MergeMode == "concat" ? output.With(-1, checked(output.Known(-1) + backward[0].Known(-1))) : output;
        var outputs = new List<Shape>();
        if (MergeMode is null) outputs.AddRange([forward[0], backward[0]]);
        else outputs.Add(merged);
        if (Layer.ReturnState) outputs.AddRange([.. forward.Skip(1), .. backward.Skip(1)]);
        return outputs;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShapes([input]);
        var forward = ForwardRun;
        var backward = BackwardRun;
        return [.. forward.Parameters(input).Select(p => p with { Name = $"{forward.Name}/{p.Name}" }),
                .. backward.Parameters(input).Select(p => p with { Name = $"{backward.Name}/{p.Name}" })];
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs) =>
        inputs.Count == 1 ? Parameters(inputs[0]) : throw new ShapeException(this, inputs, null, $"expects exactly one input, got {inputs.Count}.");
}

/// <summary>
/// Applies a layer to every timestep of a sequence independently (Keras <c>TimeDistributed</c>): input
/// <c>(timesteps, …)</c>, the wrapped layer sees <c>(…)</c> per step, output <c>(timesteps, …its output…)</c>.
/// </summary>
/// <remarks>The weights are the wrapped layer's, under its names, shared by every step. A mask on the input is kept.</remarks>
public sealed record TimeDistributed : Layer
{
    /// <summary>Wraps <paramref name="layer"/>, which must return one tensor.</summary>
    public TimeDistributed(Layer layer) => Layer = layer;

    /// <summary>The layer applied to each step.</summary>
    public Layer Layer
    {
        get;
        init => field = value is null ? throw ArgumentError("layer", null, "a layer")
            : value.OutputCount != 1 ? throw ArgumentError("layer", value.ClassName, "a layer with a single output")
            : value is Input ? throw ArgumentError("layer", value.ClassName, "a layer (not an Input)")
            : value;
    }

    /// <inheritdoc />
    public override bool SupportsMasking => true;

    private Shape StepShape(Shape input)
    {
        if (input.Rank < 2)
            throw ShapeError(input, null, $"`TimeDistributed` Layer should be passed an `input_shape` with at least 3 dimensions, received: ndim={input.Rank + 1}.");
        return new Shape(input.Skip(1));
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) =>
        new(new[] { input[0] }.Concat(Layer.ComputeOutputShape(StepShape(input))));

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input) => Layer.Parameters(StepShape(input));

    /// <summary>The wrapped layer as it runs: under this wrapper's dtype policy, and frozen when the wrapper is.</summary>
    public Layer StepLayer => Layer with { Dtype = Dtype, Trainable = Trainable && Layer.Trainable };
}
