using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>
/// The elementwise merges (Add, Subtract, Multiply, Average, Maximum, Minimum). Inputs of lower rank are expanded after
/// the batch axis until all ranks agree (Keras's <c>expand_dims(x, 1)</c>), then the operation broadcasts.
/// Computes in the Keras layout, so the model hands it logical tensors.
/// </summary>
internal sealed class BuiltElementwiseMerge : BuiltLayer
{
    private readonly Func<Tensor, Tensor, Tensor> combine;
    private readonly bool average;
    private readonly int maxRank;

    public BuiltElementwiseMerge(Merge layer, IReadOnlyList<Shape> inputs) : base(layer, inputs)
    {
        combine = layer switch
        {
            Add or Average => (a, b) => a + b,
            Subtract => (a, b) => a - b,
            Multiply => (a, b) => a * b,
            Maximum => maximum,
            Minimum => minimum,
            _ => throw new NotSupportedException(
                $"{layer.Describe()}: no builder is registered for {layer.GetType().FullName}. Register one with LayerBuilders.Register."),
        };
        average = layer is Average;
        maxRank = inputs.Max(s => s.Rank) + 1;
    }

    public override PhysicalLayout Layout => PhysicalLayout.Logical;

    public override Tensor forward(Tensor x) => Forward([x]);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        if (inputs.Count != InputShapes.Count)
            throw new ArgumentException($"{Layer.Describe()} was built for {InputShapes.Count} inputs; received {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        var xs = inputs.Select(Expand).ToList();
        var y = xs[0];
        for (var i = 1; i < xs.Count; i++)
            y = combine(y, xs[i]);
        if (average) y = y / xs.Count;
        // A single input comes back as an alias, so the caller may dispose input and output independently.
        if (xs.Count == 1) y = y.alias();
        return y.MoveToOuterDisposeScope();
    }

    // Keras's Merge.compute_mask: no mask unless every input has one; then the elementwise OR of the masks.
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks)
    {
        if (masks.Count == 0 || masks.Any(m => m is null)) return null;
        var result = masks[0]!.alias();
        for (var i = 1; i < masks.Count; i++)
        {
            var next = result.logical_or(masks[i]!);
            result.Dispose();
            result = next;
        }
        return result;
    }

    private Tensor Expand(Tensor x)
    {
        var t = x;
        for (var r = x.dim(); r < maxRank; r++) t = t.unsqueeze(1);
        return t;
    }
}

/// <summary>Concatenate: <c>torch.cat</c> along the Keras axis (which counts the batch axis).</summary>
internal sealed class BuiltConcatenate : BuiltLayer
{
    private readonly long axis;

    public BuiltConcatenate(Concatenate layer, IReadOnlyList<Shape> inputs) : base(layer, inputs) =>
        axis = Merge.SampleAxis(layer.Axis, inputs[0].Rank)!.Value + 1;

    public override PhysicalLayout Layout => PhysicalLayout.Logical;

    public override Tensor forward(Tensor x) => Forward([x]);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        if (inputs.Count != InputShapes.Count)
            throw new ArgumentException($"{Layer.Describe()} was built for {InputShapes.Count} inputs; received {inputs.Count}.", nameof(inputs));
        return cat(inputs.ToList(), axis);
    }

    // Keras's Concatenate.compute_mask: an input without a mask counts as all true, a mask of lower rank is expanded
    // over the input's last axis; the masks are concatenated along the axis and reduced with any over the last axis.
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks)
    {
        if (masks.All(m => m is null)) return null;
        using var scope = NewDisposeScope();
        var full = inputs.Select((x, i) => masks[i] switch
        {
            null => ones_like(x, dtype: ScalarType.Bool),
            { } m when m.dim() < x.dim() => m.unsqueeze(-1).expand(x.shape),
            { } m => m,
        }).ToList();
        return cat(full, axis).any(-1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Dot: Keras's <c>batch_dot</c>. The first input's axis is moved last and the second's to position 1, both are
/// flattened to (batch, M, d) and (batch, d, N), multiplied with <c>bmm</c> and reshaped to the output shape.
/// With <c>normalize</c>, each input is first multiplied by min(1/‖x‖, 1e7) along its axis (Keras's <c>ops.normalize</c>).
/// </summary>
internal sealed class BuiltDot : BuiltLayer
{
    private readonly Dot dot;
    private readonly long first, second;   // tensor axes (batch counted)

    public BuiltDot(Dot layer, IReadOnlyList<Shape> inputs) : base(layer, inputs)
    {
        dot = layer;
        var (a, b) = layer.ResolveAxes(inputs);
        first = a + 1;
        second = b + 1;
    }

    // Keras's Dot.compute_mask: none.
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) => null;

    public override PhysicalLayout Layout => PhysicalLayout.Logical;

    public override Tensor forward(Tensor x) => Forward([x]);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        if (inputs.Count != 2)
            throw new ArgumentException($"{Layer.Describe()} takes 2 inputs; received {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        var x = inputs[0];
        var y = inputs[1];
        if (dot.Normalize)
        {
            x = L2Normalize(x, first);
            y = L2Normalize(y, second);
        }
        var batch = x.shape[0];
        var d = x.shape[first];
        var xm = x.movedim([first], [x.dim() - 1]).reshape(batch, -1, d);
        var ym = y.movedim([second], [1]).reshape(batch, d, -1);
        // The per-sample output: the first input's axes without its summed one, then the second's (Keras's (1,) when none are left).
        long[] rest = [.. x.shape.Where((_, i) => i != 0 && i != first), .. y.shape.Where((_, i) => i != 0 && i != second)];
        var result = bmm(xm, ym).reshape([batch, .. rest.Length == 0 ? [1L] : rest]);
        return result.MoveToOuterDisposeScope();
    }

    private static Tensor L2Normalize(Tensor x, long axis)
    {
        var squares = x.square().sum(axis, keepdim: true);
        return x * squares.rsqrt().clamp_max(1.0 / 1e-7);
    }
}

internal sealed class ElementwiseMergeBuilder : MultiInputLayerBuilder<Merge>
{
    public override BuiltLayer Build(Merge layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        new BuiltElementwiseMerge(layer, inputShapes);
}

internal sealed class ConcatenateBuilder : MultiInputLayerBuilder<Concatenate>
{
    public override BuiltLayer Build(Concatenate layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        new BuiltConcatenate(layer, inputShapes);
}

internal sealed class DotBuilder : MultiInputLayerBuilder<Dot>
{
    public override BuiltLayer Build(Dot layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        new BuiltDot(layer, inputShapes);
}
