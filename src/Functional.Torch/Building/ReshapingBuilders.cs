using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>
/// Cropping1D/2D/3D: a narrow per spatial axis. Works in channels-first layout (spatial axes from 2), so a
/// <c>channels_last</c> model keeps its run of spatial layers in NCHW.
/// </summary>
internal sealed class BuiltCropping : BuiltLayer
{
    private readonly (long Start, long End)[] crops;   // per spatial axis; the kept length is computed per call

    public BuiltCropping(SpatialCropping layer, Shape input) : base(layer, input)
    {
        crops = Enumerable.Range(0, layer.Rank).Select(i => ((long)layer.CroppingAt(i).Start, (long)layer.CroppingAt(i).End)).ToArray();
        Layout = ComputeLayouts.Of(layer.DataFormat);
    }

    public override PhysicalLayout Layout { get; }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x.alias();
        for (var i = 0; i < crops.Length; i++)
        {
            var length = x.shape[2 + i] - crops[i].Start - crops[i].End;
            if (length <= 0)
                throw new ArgumentException(
                    $"{Layer.Describe()}: cropping {crops[i].Start} + {crops[i].End} leaves nothing of spatial axis {i} of length {x.shape[2 + i]} in this call.");
            y = y.narrow(2 + i, crops[i].Start, length);
        }
        return y.MoveToOuterDisposeScope();
    }
}

internal sealed class CroppingBuilder : LayerBuilder<SpatialCropping>
{
    public override BuiltLayer Build(SpatialCropping layer, Shape input, BuildContext context) => new BuiltCropping(layer, input);
}

/// <summary>ZeroPadding1D/2D/3D: one constant F.pad over the spatial axes (channels-first layout).</summary>
internal sealed class BuiltZeroPadding : BuiltLayer
{
    private readonly long[] pads;   // F.pad order: last axis first

    public BuiltZeroPadding(SpatialZeroPadding layer, Shape input) : base(layer, input)
    {
        pads = Enumerable.Range(0, layer.Rank).Reverse()
            .SelectMany(i => new long[] { layer.PaddingAt(i).Before, layer.PaddingAt(i).After }).ToArray();
        Layout = ComputeLayouts.Of(layer.DataFormat);
    }

    public override PhysicalLayout Layout { get; }

    public override Tensor forward(Tensor x) => pads.All(p => p == 0) ? x.alias() : F.pad(x, pads);
}

internal sealed class ZeroPaddingBuilder : LayerBuilder<SpatialZeroPadding>
{
    public override BuiltLayer Build(SpatialZeroPadding layer, Shape input, BuildContext context) => new BuiltZeroPadding(layer, input);
}

/// <summary>
/// UpSampling1D/2D/3D (channels-first layout). <c>nearest</c> repeats each element along each spatial axis, as Keras's
/// <c>ops.repeat</c> does. <c>bilinear</c> is PyTorch's bilinear interpolation with <c>align_corners=false</c>, whose source
/// coordinate (o + ½)/scale − ½, clamped at the edges, is TensorFlow's half-pixel-centre resize.
/// </summary>
internal sealed class BuiltUpSampling : BuiltLayer
{
    private readonly SpatialUpSampling upsampling;
    private readonly long[] sizes;

    public BuiltUpSampling(SpatialUpSampling layer, Shape input) : base(layer, input)
    {
        upsampling = layer;
        sizes = Enumerable.Range(0, layer.Rank).Select(i => (long)layer.SizeAt(i)).ToArray();
        Layout = ComputeLayouts.Of(layer.DataFormat);
    }

    public override PhysicalLayout Layout { get; }

    public override Tensor forward(Tensor x)
    {
        if (upsampling.Method == "bilinear")
            return F.interpolate(x, [.. sizes.Select((s, i) => s * x.shape[2 + i])], mode: InterpolationMode.Bilinear, align_corners: false);
        using var scope = NewDisposeScope();
        var y = x.alias();
        for (var i = 0; i < sizes.Length; i++)
            if (sizes[i] != 1) y = y.repeat_interleave(sizes[i], dim: 2 + i);
        return y.MoveToOuterDisposeScope();
    }
}

internal sealed class UpSamplingBuilder : LayerBuilder<SpatialUpSampling>
{
    public override BuiltLayer Build(SpatialUpSampling layer, Shape input, BuildContext context) => new BuiltUpSampling(layer, input);
}
