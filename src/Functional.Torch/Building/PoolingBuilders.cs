using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>
/// MaxPooling1D/2D/3D and AveragePooling1D/2D/3D as one rank-generic module, with TensorFlow's <c>same</c> padding
/// (the extra element after when the total is odd), padded explicitly:
/// max pooling pads with −∞, so padding never wins a max; average pooling pads with zeros and divides each window's
/// sum by the number of real elements in it (TensorFlow's rule; PyTorch's count_include_pad semantics differ, and
/// PyTorch cannot pad asymmetrically).
/// </summary>
internal sealed class BuiltPooling : BuiltLayer
{
    private readonly Pooling pool;
    private readonly bool average;
    private readonly long[] kernel, strides;
    private readonly CallPadding padding;     // per call, from the input's spatial lengths

    public BuiltPooling(Pooling layer, Shape input) : base(layer, input)
    {
        pool = layer;
        average = layer is AveragePooling1D or AveragePooling2D or AveragePooling3D;
        kernel = layer.PoolSize.Select(k => (long)k).ToArray();
        strides = layer.Strides.Select(s => (long)s).ToArray();
        padding = new CallPadding(layer.Window);
    }

    public override PhysicalLayout Layout => ComputeLayouts.Of(pool.DataFormat);

    public override Tensor forward(Tensor x)
    {
        var explicitPadding = padding.ExplicitFor(x);
        if (!average)
        {
            using var padded = explicitPadding is null ? null : F.pad(x, explicitPadding, PaddingModes.Constant, double.NegativeInfinity);
            return MaxPool(padded ?? x);
        }
        if (explicitPadding is null) return AvgPool(x);
        using var scope = NewDisposeScope();
        // Window mean over the zero-padded input ÷ window mean of a padded ones-mask = sum of real elements ÷ their count.
        var sums = AvgPool(F.pad(x, explicitPadding));
        var counts = AvgPool(F.pad(ones([1, 1, .. x.shape[2..]], x.dtype, x.device), explicitPadding));
        return (sums / counts).MoveToOuterDisposeScope();
    }

    private Tensor MaxPool(Tensor x) => pool.Rank switch
    {
        1 => F.max_pool1d(x, kernel[0], strides[0]),
        2 => F.max_pool2d(x, kernel, strides),
        _ => F.max_pool3d(x, kernel, strides),
    };

    private Tensor AvgPool(Tensor x) => pool.Rank switch
    {
        1 => F.avg_pool1d(x, kernel[0], strides[0]),
        2 => F.avg_pool2d(x, kernel, strides),
        _ => F.avg_pool3d(x, kernel, strides),
    };
}

internal sealed class PoolingBuilder : LayerBuilder<Pooling>
{
    public override BuiltLayer Build(Pooling layer, Shape input, BuildContext context) =>
        layer is MaxPooling1D or MaxPooling2D or MaxPooling3D or AveragePooling1D or AveragePooling2D or AveragePooling3D
            ? new BuiltPooling(layer, input)
            : throw new NotSupportedException(
                $"{layer.Describe()}: no builder is registered for {layer.GetType().FullName}. Register one with LayerBuilders.Register.");
}

/// <summary>
/// GlobalMaxPooling1D/2D/3D and GlobalAveragePooling1D/2D/3D: a max or mean over the spatial axes. A <c>channels_last</c>
/// layer reduces in PyTorch's channels-first layout (the model permutes once, and the <c>(batch, channels)</c> result
/// needs no permute back); with keepdims the spatial axes stay with length 1.
/// </summary>
internal sealed class BuiltGlobalPooling : BuiltLayer
{
    private readonly GlobalPooling pool;
    private readonly bool average;
    private readonly long[] dims;

    public BuiltGlobalPooling(GlobalPooling layer, Shape input) : base(layer, input)
    {
        pool = layer;
        average = layer is GlobalAveragePooling1D or GlobalAveragePooling2D or GlobalAveragePooling3D;
        dims = Enumerable.Range(2, layer.Rank).Select(d => (long)d).ToArray();
    }

    public override PhysicalLayout Layout => ComputeLayouts.Of(pool.DataFormat);

    public override Tensor forward(Tensor x) =>
        average ? x.mean(dims, keepdim: pool.Keepdims) : x.amax(dims, keepdim: pool.Keepdims);

    // Keras's GlobalAveragePooling1D with a (batch, steps) mask: the mean over the unmasked steps only (Keras divides by
    // their count, so a row with every step masked gives NaN there too). Here x is (batch, channels, steps).
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context)
    {
        if (!average || pool.Rank != 1 || masks.Count == 0 || masks[0] is not { } mask) return Call(inputs, context);
        using var scope = NewDisposeScope();
        var x = inputs[0];
        var weights = mask.unsqueeze(1).to_type(x.dtype);
        var sum = torch.where(mask.unsqueeze(1), x, torch.zeros_like(x)).sum(dims, keepdim: pool.Keepdims);
        return (sum / weights.sum(dims, keepdim: pool.Keepdims)).MoveToOuterDisposeScope();
    }

    // Keras: GlobalAveragePooling1D consumes the mask; global pooling leaves none.
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) => null;
}

internal sealed class GlobalPoolingBuilder : LayerBuilder<GlobalPooling>
{
    public override BuiltLayer Build(GlobalPooling layer, Shape input, BuildContext context) =>
        layer is GlobalMaxPooling1D or GlobalMaxPooling2D or GlobalMaxPooling3D
            or GlobalAveragePooling1D or GlobalAveragePooling2D or GlobalAveragePooling3D
            ? new BuiltGlobalPooling(layer, input)
            : throw new NotSupportedException(
                $"{layer.Describe()}: no builder is registered for {layer.GetType().FullName}. Register one with LayerBuilders.Register.");
}
