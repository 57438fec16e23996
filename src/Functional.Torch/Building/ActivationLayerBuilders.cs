using Functional.Layers;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch;

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
    private readonly ParameterSpec spec;

    public BuiltPReLU(PReLU layer, Shape input, BuildContext context) : base(layer, input)
    {
        spec = layer.Parameters(input)[0];
        alpha = BuildHelpers.CreateParameter(spec, spec.Dims, null, context);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (F.relu(x) - alpha * F.relu(-x)).MoveToOuterDisposeScope();
    }

    public override IEnumerable<WeightBinding> Weights()
    {
        yield return Bind(spec, alpha, null);
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
}

internal sealed class SoftmaxBuilder : LayerBuilder<Softmax>
{
    public override BuiltLayer Build(Softmax layer, Shape input, BuildContext context) => new BuiltSoftmax(layer, input);
}
