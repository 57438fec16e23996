using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

internal sealed class BuiltReshape : BuiltLayer
{
    // Keras's target shape with at most one -1, resolved per call by reshape itself (the input's sizes may be unknown until then).
    private readonly long[] target;
    public BuiltReshape(Reshape layer, Shape input) : base(layer, input) => target = layer.TargetShape.Select(d => (long)d).ToArray();
    public override Tensor forward(Tensor x) => x.reshape([x.shape[0], .. target]);
}

internal sealed class ReshapeBuilder : LayerBuilder<Reshape>
{
    public override BuiltLayer Build(Reshape layer, Shape input, BuildContext context) => new BuiltReshape(layer, input);
}

internal sealed class BuiltPermute : BuiltLayer
{
    private readonly long[] permutation;
    public BuiltPermute(Permute layer, Shape input) : base(layer, input) => permutation = layer.TensorPermutation;
    public override Tensor forward(Tensor x) => x.permute(permutation);
}

internal sealed class PermuteBuilder : LayerBuilder<Permute>
{
    public override BuiltLayer Build(Permute layer, Shape input, BuildContext context) => new BuiltPermute(layer, input);
}

internal sealed class BuiltRepeatVector : BuiltLayer
{
    private readonly long n;
    public BuiltRepeatVector(RepeatVector layer, Shape input) : base(layer, input) => n = layer.N;

    public override Tensor forward(Tensor x)
    {
        using var unsqueezed = x.unsqueeze(1);
        return unsqueezed.expand(x.shape[0], n, x.shape[1]).contiguous();
    }
}

internal sealed class RepeatVectorBuilder : LayerBuilder<RepeatVector>
{
    public override BuiltLayer Build(RepeatVector layer, Shape input, BuildContext context) => new BuiltRepeatVector(layer, input);
}

/// <summary>The identity; the model records the layer's activity penalty (its <see cref="Layer.ActivityRegularizer"/>).</summary>
internal sealed class BuiltActivityRegularization : BuiltLayer
{
    public BuiltActivityRegularization(ActivityRegularization layer, Shape input) : base(layer, input) { }
    public override PhysicalLayout Layout => PhysicalLayout.Any;   // Σ|y| and Σy² do not depend on the element order
    public override Tensor forward(Tensor x) => x.alias();
}

internal sealed class ActivityRegularizationBuilder : LayerBuilder<ActivityRegularization>
{
    public override BuiltLayer Build(ActivityRegularization layer, Shape input, BuildContext context) =>
        new BuiltActivityRegularization(layer, input);
}

/// <summary>Keras's Masking: output <c>x · any(x ≠ mask_value, axis=-1, keepdims)</c>, and the mask
/// <c>any(x ≠ mask_value, axis=-1)</c> for the layers after it (the incoming mask is replaced, as in Keras).</summary>
internal sealed class BuiltMasking : BuiltLayer
{
    private readonly double maskValue;
    public BuiltMasking(Masking layer, Shape input) : base(layer, input) => maskValue = layer.MaskValue;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var keep = x.ne(maskValue).any(-1, keepdim: true);
        return (x * keep.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) => inputs[0].ne(maskValue).any(-1);
}

internal sealed class MaskingBuilder : LayerBuilder<Masking>
{
    public override BuiltLayer Build(Masking layer, Shape input, BuildContext context) => new BuiltMasking(layer, input);
}

/// <summary>Runs the Lambda's function and checks that the result has the per-sample shape the record promised.</summary>
internal sealed class BuiltLambda : BuiltLayer
{
    private readonly Func<Tensor, Tensor> function;

    public BuiltLambda(Lambda layer, Shape input) : base(layer, input) => function = layer.Function;

    public override Tensor forward(Tensor x)
    {
        var y = function(x) ?? throw new InvalidOperationException($"{Layer.Describe()}: the function returned null.");
        if (y.dim() != OutputShape.Rank + 1 || y.shape[0] != x.shape[0]
            || !OutputShape.Accepts(y.shape[1..]))
        {
            var got = string.Join(", ", y.shape);
            if (!ReferenceEquals(y, x)) y.Dispose();
            throw new InvalidOperationException(
                $"{Layer.Describe()}: the function returned a tensor of shape ({got}) for a batch of {x.shape[0]}, " +
                $"but the layer's output shape is {OutputShape}. Pass the right outputShape, or keep the batch dimension first.");
        }
        return ReferenceEquals(y, x) ? x.alias() : y;
    }
}

internal sealed class LambdaBuilder : LayerBuilder<Lambda>
{
    public override BuiltLayer Build(Lambda layer, Shape input, BuildContext context) => new BuiltLambda(layer, input);
}
