using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// The base of Keras's merge layers (<c>keras.layers.Merge</c>): layers called on a list of tensors.
/// The elementwise merges (<see cref="Add"/>, <see cref="Subtract"/>, <see cref="Multiply"/>, <see cref="Average"/>,
/// <see cref="Maximum"/>, <see cref="Minimum"/>) use this class's shape rule; <see cref="Concatenate"/> and
/// <see cref="Dot"/> override it.
/// </summary>
/// <remarks>
/// <para>Elementwise shape rule (Keras <c>_compute_elemwise_op_output_shape</c>, applied pairwise left to right over the
/// per-sample shapes): shapes are aligned on the right; a dimension of 1 takes the other's size; any other pair of
/// sizes must be equal; a shorter shape keeps the longer one's leading dimensions. Inputs of lower rank are expanded
/// after the batch axis when the layer runs, which is the same right-aligned broadcasting.</para>
/// <para>No parameters. Merge layers take several inputs, so they cannot be used in a <see cref="Models.Sequential"/>
/// model: <see cref="ComputeOutputShape(Shape)"/> rejects a single shape as Keras does.</para>
/// </remarks>
public abstract record Merge : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Rejects a single input shape, as Keras's merge layers reject a single tensor.</summary>
    /// <exception cref="ShapeException">Always: a merge layer must be given a list of input shapes.</exception>
    public override Shape ComputeOutputShape(Shape input) =>
        throw ShapeError(input, null,
            $"A merge layer should be called on a list of inputs. Received: input_shape={input} (not a list of shapes). " +
            "Call it in a functional model on a list of tensors.");

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        RequireAtLeastOne(inputs);
        CheckInputCount(inputs);
        var output = inputs[0];
        for (var i = 1; i < inputs.Count; i++)
            output = Broadcast(output, inputs[i], inputs);
        return output;
    }

    /// <summary>Extra rules on the number of inputs (e.g. <see cref="Subtract"/> takes exactly two).</summary>
    protected virtual void CheckInputCount(IReadOnlyList<Shape> inputs) { }

    /// <summary>Throws Keras's error when the list of inputs is empty.</summary>
    protected void RequireAtLeastOne(IReadOnlyList<Shape> inputs)
    {
        if (inputs.Count < 1)
            throw new ShapeException(this, inputs, null,
                $"A merge layer should be called on a list of at least 1 input. Received {inputs.Count} inputs.");
    }

    /// <summary>Keras's elementwise broadcast of two per-sample shapes.</summary>
    private Shape Broadcast(Shape a, Shape b, IReadOnlyList<Shape> all)
    {
        var (longer, shorter) = a.Rank >= b.Rank ? (a, b) : (b, a);
        var offset = longer.Rank - shorter.Rank;
        var dims = longer.ToArray();
        for (var k = 0; k < shorter.Rank; k++)
        {
            int? i = longer[offset + k], j = shorter[k];
            if (i is null || j is null) dims[offset + k] = null;
            else if (i == 1) dims[offset + k] = j;
            else if (j != 1 && i != j)
                throw new ShapeException(this, all, null,
                    $"Inputs have incompatible shapes. Received shapes {a.ToSampleString()} and {b.ToSampleString()} " +
                    $"(axis {offset + k + 1} of the longer, counting the batch axis: {i} vs {j}; only equal sizes or 1 broadcast).");
        }
        return new Shape(dims);
    }

    /// <summary>Resolves a Keras axis (counting the batch axis; negative counts from the end) for a per-sample shape
    /// of rank <paramref name="rank"/>; returns the per-sample index, or null when it is out of range or the batch axis.</summary>
    internal static int? SampleAxis(int axis, int rank) =>
        KerasAxes.ToSampleAxis(axis, rank) is { } a && a >= 0 ? a : null;
}

/// <summary>Elementwise sum of its inputs (Keras <c>Add</c>). Shapes broadcast as in <see cref="Merge"/>; no parameters.</summary>
/// <remarks>Input shapes: two or more shapes that broadcast together (Keras rules). Output shape: the broadcast shape. No parameters.</remarks>
public sealed record Add : Merge
{
    /// <summary>Creates the layer (Keras takes no arguments besides the common ones).</summary>
    public Add() { }
}

/// <summary><c>inputs[0] − inputs[1]</c> (Keras <c>Subtract</c>): exactly two inputs, shapes broadcast; no parameters.</summary>
/// <remarks>Input shapes: exactly two shapes that broadcast together. Output shape: the broadcast shape. No parameters.</remarks>
public sealed record Subtract : Merge
{
    /// <summary>Creates the layer.</summary>
    public Subtract() { }

    /// <inheritdoc />
    protected override void CheckInputCount(IReadOnlyList<Shape> inputs)
    {
        if (inputs.Count != 2)
            throw new ShapeException(this, inputs, null,
                $"A `Subtract` layer should be called on exactly 2 inputs. Received {inputs.Count} input(s).");
    }
}

/// <summary>Elementwise product of its inputs (Keras <c>Multiply</c>). Shapes broadcast; no parameters.</summary>
/// <remarks>Input shapes: two or more shapes that broadcast together. Output shape: the broadcast shape. No parameters.</remarks>
public sealed record Multiply : Merge
{
    /// <summary>Creates the layer.</summary>
    public Multiply() { }
}

/// <summary>Elementwise mean of its inputs: their sum divided by their number (Keras <c>Average</c>). No parameters.</summary>
/// <remarks>Input shapes: two or more shapes that broadcast together. Output shape: the broadcast shape. No parameters.</remarks>
public sealed record Average : Merge
{
    /// <summary>Creates the layer.</summary>
    public Average() { }
}

/// <summary>Elementwise maximum of its inputs (Keras <c>Maximum</c>). Shapes broadcast; no parameters.</summary>
/// <remarks>Input shapes: two or more shapes that broadcast together. Output shape: the broadcast shape. No parameters.</remarks>
public sealed record Maximum : Merge
{
    /// <summary>Creates the layer.</summary>
    public Maximum() { }
}

/// <summary>Elementwise minimum of its inputs (Keras <c>Minimum</c>). Shapes broadcast; no parameters.</summary>
/// <remarks>Input shapes: two or more shapes that broadcast together. Output shape: the broadcast shape. No parameters.</remarks>
public sealed record Minimum : Merge
{
    /// <summary>Creates the layer.</summary>
    public Minimum() { }
}

/// <summary>
/// Concatenates its inputs along <see cref="Axis"/> (Keras <c>Concatenate</c>).
/// </summary>
/// <remarks>
/// <para><see cref="Axis"/> counts the batch axis, as in Keras: <c>-1</c> (default) is the last axis, <c>1</c> the first
/// per-sample axis. All inputs must have the same rank and equal sizes on every other axis (no broadcasting); the output
/// size on the axis is the sum of the inputs' sizes. No parameters.</para>
/// <para>Axis 0 (the batch axis) is rejected: Functional's shapes describe one sample.</para>
/// </remarks>
public sealed record Concatenate : Merge
{
    /// <summary>Creates the layer; Keras's default axis is <c>-1</c>.</summary>
    public Concatenate(int axis = -1) => Axis = axis;

    /// <summary>The concatenation axis, counting the batch axis; negative values count from the end.</summary>
    public int Axis
    {
        get;
        init => field = value != 0
            ? value
            : throw ArgumentError("axis", value, "a non-batch axis (axis 0 is the batch axis; use 1 for the first per-sample axis or -1 for the last)");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count < 1)
            throw new ShapeException(this, inputs, null,
                $"A `Concatenate` layer should be called on a list of at least 1 input. Received {inputs.Count} inputs.");
        var listed = $"[{string.Join(", ", inputs)}]";
        var mismatch = $"A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis. Received: input_shape={listed}";
        var rank = inputs[0].Rank;
        if (inputs.Any(s => s.Rank != rank))
            throw new ShapeException(this, inputs, null, $"{mismatch} (the inputs have different ranks).");
        if (SampleAxis(Axis, rank) is not { } axis)
            throw new ShapeException(this, inputs, null,
                $"axis={Axis} is out of range for inputs of rank {rank + 1} counting the batch axis " +
                $"(valid: 1 to {rank} or -1 to -{rank}; the batch axis cannot be concatenated).");
        var dims = inputs[0].ToArray();
        for (var i = 1; i < inputs.Count; i++)
        {
            // Keras: sizes off the concatenation axis must agree where both are known; an unknown size on it makes the sum unknown.
            for (var d = 0; d < rank; d++)
                if (d != axis && inputs[i][d] is { } size && inputs[0][d] is { } first && size != first)
                    throw new ShapeException(this, inputs, d,
                        $"{mismatch} (input {i} has size {size} where input 0 has {first}).");
            dims[axis] += inputs[i][axis];
        }
        return new Shape(dims);
    }
}

/// <summary>
/// The dot product of two inputs along one axis of each (Keras <c>Dot</c>), per sample.
/// </summary>
/// <remarks>
/// <para><see cref="Axes"/> is one axis used for both inputs or a pair (axis of the first, axis of the second); axes count
/// the batch axis as in Keras, so <c>1</c> is the first per-sample axis and <c>-1</c> the last. The two sizes must be equal.</para>
/// <para>Output shape: the first input's per-sample shape without its axis, followed by the second's without its axis;
/// <c>(1,)</c> when that is empty (two vectors). With <see cref="Normalize"/>, both inputs are L2-normalised along their
/// axes first (x / max(‖x‖, 1e-7)), so the output is the cosine proximity. No parameters.</para>
/// </remarks>
public sealed record Dot : Merge
{
    /// <summary>Creates the layer: <paramref name="axes"/> is an integer or a pair of integers; <paramref name="normalize"/> is false by default.</summary>
    public Dot(IntTuple axes, bool normalize = false)
    {
        Axes = axes;
        Normalize = normalize;
    }

    /// <summary>The axis (or pair of axes, first input then second) the dot product sums over, counting the batch axis.</summary>
    public IntTuple Axes
    {
        get;
        init
        {
            if (value.Count is not (1 or 2))
                throw ArgumentError("axes", value, "an integer or a tuple of 2 integers (one axis per input)");
            if (value.Any(a => a == 0))
                throw ArgumentError("axes", value, "non-batch axes (axis 0 is the batch axis; a batch dot product cannot sum over it)");
            field = value;
        }
    }

    /// <summary>Whether both inputs are L2-normalised along the dot axes first (cosine proximity).</summary>
    public bool Normalize { get; init; }

    /// <summary>The per-sample axes (batch excluded) summed over in each input.</summary>
    /// <exception cref="ShapeException">Not exactly two inputs, an axis out of range, or sizes that differ.</exception>
    public (int First, int Second) ResolveAxes(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 2)
            throw new ShapeException(this, inputs, null,
                $"A `Dot` layer should be called on a list of 2 inputs. Received {inputs.Count} input(s).");
        var requested = Axes.Count == 1 ? (Axes[0], Axes[0]) : (Axes[0], Axes[1]);
        int Resolve(int axis, int which) =>
            SampleAxis(axis, inputs[which].Rank) ?? throw new ShapeException(this, inputs, null,
                $"axes={Axes}: axis {axis} is out of range for input {which} of rank {inputs[which].Rank + 1} counting the batch axis " +
                $"(valid: 1 to {inputs[which].Rank} or -1 to -{inputs[which].Rank}; the batch axis cannot be summed over).");
        var a = Resolve(requested.Item1, 0);
        var b = Resolve(requested.Item2, 1);
        if (inputs[0][a] != inputs[1][b])
            throw new ShapeException(this, inputs, null,
                $"Incompatible input shapes: axis values {inputs[0][a]} (at axis {a + 1}) != {inputs[1][b]} (at axis {b + 1}). " +
                $"Full input shapes: {inputs[0]}, {inputs[1]}");
        return (a, b);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs)
    {
        var (a, b) = ResolveAxes(inputs);
        int?[] dims = [.. inputs[0].Where((_, i) => i != a), .. inputs[1].Where((_, i) => i != b)];
        return dims.Length == 0 ? new Shape(1) : new Shape(dims);
    }
}
