using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Rescaling: <c>x · scale + offset</c>. Scalars work in any layout; per-channel lists broadcast on the logical last axis.</summary>
internal sealed class BuiltRescaling : BuiltLayer
{
    private readonly double[] scale, offset;
    private readonly bool elementwise;

    public BuiltRescaling(Rescaling layer, Shape input) : base(layer, input)
    {
        scale = [.. layer.Scale];
        offset = [.. layer.Offset];
        elementwise = scale.Length == 1 && offset.Length == 1;
    }

    public override PhysicalLayout Layout => elementwise ? PhysicalLayout.Any : PhysicalLayout.Logical;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x.to_type(ScalarType.Float32) * Values(scale, x) + Values(offset, x);
        return y.MoveToOuterDisposeScope();
    }

    private static Tensor Values(double[] values, Tensor x) =>
        values.Length == 1 ? torch.tensor(values[0], ScalarType.Float32, x.device)
                           : torch.tensor(values.Select(v => (float)v).ToArray(), device: x.device);
}

internal sealed class RescalingBuilder : LayerBuilder<Rescaling>
{
    public override BuiltLayer Build(Rescaling layer, Shape input, BuildContext context) => new BuiltRescaling(layer, input);
}

/// <summary>
/// Normalization: <c>(x − mean) / max(√variance, 1e-7)</c> (or its inverse), as Keras's <c>Normalization.call</c>. Without given
/// statistics, <c>mean</c> and <c>variance</c> are non-trainable float parameters and <c>count</c> a non-trainable int64 scalar,
/// so they are saved and loaded with the weights under Keras's names.
/// </summary>
internal sealed class BuiltNormalization : BuiltLayer
{
    private const double Epsilon = 1e-7;   // keras.backend.epsilon()
    private readonly Parameter? mean, variance, count;
    private readonly float[]? fixedMean, fixedVariance;   // given statistics, broadcast by fixedShape
    private readonly long[] fixedShape = [];
    private readonly long[] broadcast;     // with the batch axis: sizes on kept axes, 1 elsewhere
    private readonly bool invert;

    public BuiltNormalization(Normalization layer, Shape input, BuildContext context) : base(layer, input)
    {
        invert = layer.Invert;
        layer.Parameters(input);   // the input must suit the weights (a shape error naming the layer otherwise)
        var kept = layer.KeptAxes(input);
        layer.StatisticsShape(input);   // the kept axes must be known (Keras's build error otherwise)
        broadcast = [1, .. Enumerable.Range(0, input.Rank).Select(d => kept.Contains(d) ? (long)input.Known(d) : 1L)];
        if (layer.HasWeights)
        {
            mean = DeclareWeight("mean", context);
            variance = DeclareWeight("variance", context);
            count = DeclareWeight("count", context);
        }
        else
        {
            // Keras aligns given values with the kept axes from the right, then broadcasts.
            fixedShape = Enumerable.Repeat(1L, input.Rank + 1).ToArray();
            if (!layer.Mean.IsScalar) fixedShape[kept[^1] + 1] = layer.Mean.Count;
            fixedMean = layer.Mean.Select(v => (float)v).ToArray();
            fixedVariance = layer.Variance.Select(v => (float)v).ToArray();
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var m = mean is not null ? mean.reshape(broadcast) : torch.tensor(fixedMean!, device: x.device).reshape(fixedShape);
        var v = variance is not null ? variance.reshape(broadcast) : torch.tensor(fixedVariance!, device: x.device).reshape(fixedShape);
        var std = v.sqrt().clamp_min(Epsilon);
        var y = invert ? m + x * std : (x - m) / std;
        return y.MoveToOuterDisposeScope();
    }

}

internal sealed class NormalizationBuilder : LayerBuilder<Normalization>
{
    public override BuiltLayer Build(Normalization layer, Shape input, BuildContext context) => new BuiltNormalization(layer, input, context);
}
