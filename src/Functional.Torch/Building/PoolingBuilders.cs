using Functional.Layers;
using Functional.Shapes;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch;

/// <summary>
/// MaxPooling1D/2D/3D as one rank-generic module. TF <c>same</c> padding pads with −∞ (padding never wins a max),
/// with the extra element after when the total is odd.
/// </summary>
internal sealed class BuiltMaxPooling : BuiltLayer
{
    private readonly Pooling pool;
    private readonly long[] kernel, strides;
    private readonly long[]? explicitPadding;

    public BuiltMaxPooling(Pooling layer, Shape input) : base(layer, input)
    {
        pool = layer;
        kernel = layer.PoolSize.Select(k => (long)k).ToArray();
        strides = layer.Strides.Select(s => (long)s).ToArray();
        if (layer.Padding.Kind == PaddingKind.Same)
        {
            var axes = layer.DataFormat.SpatialAxes(input.Rank);
            var pads = Enumerable.Range(0, layer.Rank)
                .Select(i => ConvArithmetic.SamePadding(input[axes[i]], layer.PoolSize[i], layer.Strides[i])).ToArray();
            if (pads.Any(p => p.Before + p.After > 0))
                explicitPadding = pads.Reverse().SelectMany(p => new long[] { p.Before, p.After }).ToArray();
        }
    }

    public override PhysicalLayout Layout => pool.DataFormat.IsChannelsLast ? PhysicalLayout.ChannelsFirst : PhysicalLayout.Logical;

    public override Tensor forward(Tensor x)
    {
        using var padded = explicitPadding is null ? null : F.pad(x, explicitPadding, PaddingModes.Constant, double.NegativeInfinity);
        var input = padded ?? x;
        return pool.Rank switch
        {
            1 => F.max_pool1d(input, kernel[0], strides[0]),
            2 => F.max_pool2d(input, kernel, strides),
            _ => F.max_pool3d(input, kernel, strides),
        };
    }
}

internal sealed class MaxPooling1DBuilder : LayerBuilder<MaxPooling1D>
{
    public override BuiltLayer Build(MaxPooling1D layer, Shape input, BuildContext context) => new BuiltMaxPooling(layer, input);
}

internal sealed class MaxPooling2DBuilder : LayerBuilder<MaxPooling2D>
{
    public override BuiltLayer Build(MaxPooling2D layer, Shape input, BuildContext context) => new BuiltMaxPooling(layer, input);
}

internal sealed class MaxPooling3DBuilder : LayerBuilder<MaxPooling3D>
{
    public override BuiltLayer Build(MaxPooling3D layer, Shape input, BuildContext context) => new BuiltMaxPooling(layer, input);
}
