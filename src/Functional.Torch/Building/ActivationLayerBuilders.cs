using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>Keras's <c>ReLU.static_call</c>, branch for branch.</summary>
internal sealed class BuiltReLU : BuiltLayer
{
    private readonly ReLU relu;
    public BuiltReLU(ReLU layer, Shape input) : base(layer, input) => relu = layer;
    public override PhysicalLayout Layout => PhysicalLayout.Any;

    public override Tensor forward(Tensor x)
    {
        var slope = relu.NegativeSlope;
        var threshold = relu.Threshold;
        if (slope != 0 && relu.MaxValue is null && threshold == 0) return F.leaky_relu(x, slope);
        using var scope = NewDisposeScope();
        var negative = slope != 0 ? F.relu(threshold - x) : null;
        var y = threshold != 0 ? x * x.gt(threshold).to_type(x.dtype) : F.relu(x);
        if (relu.MaxValue is { } max) y = y.clamp(0.0, max);
        if (negative is not null) y = y - negative * slope;
        return y.MoveToOuterDisposeScope();
    }
}

internal sealed class ReLUBuilder : LayerBuilder<ReLU>
{
    public override BuiltLayer Build(ReLU layer, Shape input, BuildContext context) => new BuiltReLU(layer, input);
}

internal sealed class BuiltLeakyReLU : BuiltLayer
{
    private readonly double slope;
    public BuiltLeakyReLU(LeakyReLU layer, Shape input) : base(layer, input) => slope = layer.NegativeSlope;
    public override PhysicalLayout Layout => PhysicalLayout.Any;
    public override Tensor forward(Tensor x) => F.leaky_relu(x, slope);
}

internal sealed class LeakyReLUBuilder : LayerBuilder<LeakyReLU>
{
    public override BuiltLayer Build(LeakyReLU layer, Shape input, BuildContext context) => new BuiltLeakyReLU(layer, input);
}

/// <summary>PReLU as Keras computes it: <c>relu(x) − alpha · relu(−x)</c>, alpha in Keras's per-sample layout (broadcast over the batch).</summary>
internal sealed class BuiltPReLU : BuiltLayer
{
    private readonly Parameter alpha;

    public BuiltPReLU(PReLU layer, Shape input, BuildContext context) : base(layer, input)
    {
        alpha = DeclareWeight("alpha", context);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (F.relu(x) - alpha * F.relu(-x)).MoveToOuterDisposeScope();
    }

}

internal sealed class PReLUBuilder : LayerBuilder<PReLU>
{
    public override BuiltLayer Build(PReLU layer, Shape input, BuildContext context) => new BuiltPReLU(layer, input, context);
}

internal sealed class BuiltELU : BuiltLayer
{
    private readonly double alpha;
    public BuiltELU(ELU layer, Shape input) : base(layer, input) => alpha = layer.Alpha;
    public override PhysicalLayout Layout => PhysicalLayout.Any;
    public override Tensor forward(Tensor x) => F.elu(x, alpha);
}

internal sealed class ELUBuilder : LayerBuilder<ELU>
{
    public override BuiltLayer Build(ELU layer, Shape input, BuildContext context) => new BuiltELU(layer, input);
}

internal sealed class BuiltThresholdedReLU : BuiltLayer
{
    private readonly double theta;
    public BuiltThresholdedReLU(ThresholdedReLU layer, Shape input) : base(layer, input) => theta = layer.Theta;
    public override PhysicalLayout Layout => PhysicalLayout.Any;

    public override Tensor forward(Tensor x)
    {
        using var keep = x.gt(theta);
        using var mask = keep.to_type(x.dtype);
        return x * mask;
    }
}

internal sealed class ThresholdedReLUBuilder : LayerBuilder<ThresholdedReLU>
{
    public override BuiltLayer Build(ThresholdedReLU layer, Shape input, BuildContext context) => new BuiltThresholdedReLU(layer, input);
}

/// <summary>Softmax over one axis (F.softmax) or jointly over several (max-shifted exp over the sum), in the logical layout.</summary>
internal sealed class BuiltSoftmax : BuiltLayer
{
    private readonly long[] axes;
    public BuiltSoftmax(Softmax layer, Shape input) : base(layer, input) => axes = layer.TensorAxes(input).Select(a => (long)a).ToArray();

    public override Tensor forward(Tensor x)
    {
        if (axes.Length == 1) return F.softmax(x, axes[0]);
        using var scope = NewDisposeScope();
        var shifted = (x - x.amax(axes, keepdim: true)).exp();
        return (shifted / shifted.sum(axes, keepdim: true)).MoveToOuterDisposeScope();
    }

    // Keras 3's Softmax with a mask: masked positions are set to a large negative number before the softmax (−1e9, or
    // −3e4 in float16) and to zero after it, so a fully masked row gives zeros. A mask of the input's rank minus one (a
    // (batch, steps) mask on (batch, steps, features)) covers every feature of a step.
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context)
    {
        if (masks.Count == 0 || masks[0] is not { } mask) return Call(inputs, context);
        using var scope = NewDisposeScope();
        var x = inputs[0];
        var m = mask.dim() < x.dim() ? mask.unsqueeze(-1) : mask;
        var large = x.dtype == ScalarType.Float16 ? 3e4 : 1e9;
        var y = forward(torch.where(m, x, torch.full_like(x, -large)));
        return torch.where(m, y, torch.zeros_like(y)).MoveToOuterDisposeScope();
    }
}

internal sealed class SoftmaxBuilder : LayerBuilder<Softmax>
{
    public override BuiltLayer Build(Softmax layer, Shape input, BuildContext context) => new BuiltSoftmax(layer, input);
}
