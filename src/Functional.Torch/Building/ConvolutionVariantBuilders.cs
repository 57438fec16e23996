using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>Rank-generic convolution calls and TF padding shared by the convolution-variant modules.</summary>
internal static class ConvOps
{
    /// <summary>F.conv1d/2d/3d by rank, on an input with canonical strides (see <see cref="WithCanonicalStrides"/>).</summary>
    public static Tensor Conv(int rank, Tensor x, Tensor weight, Tensor? bias, long[] strides, long[] padding, long[] dilation, long groups) =>
        WithCanonicalStrides(x, input => rank switch
        {
            1 => F.conv1d(input, weight, bias, strides[0], padding[0], dilation[0], groups),
            2 => F.conv2d(input, weight, bias, strides, padding, dilation, groups),
            _ => F.conv3d(input, weight, bias, strides, padding, dilation, groups),
        });

    /// <summary>
    /// Runs <paramref name="op"/> on <paramref name="x"/>, or on a row-major copy when <paramref name="x"/> is contiguous
    /// with non-row-major strides — a size-1 axis that was permuted, e.g. a one-channel <c>channels_last</c> input moved to
    /// NCHW. libtorch 2.10's CPU convolution reads those strides as channels_last and returns wrong values when an output
    /// axis has length 1 with a stride &gt; 1. <see cref="BuiltNetwork"/> already copies after its permutes
    /// (<see cref="Layouts.Standard"/>); this keeps modules called on their own, or from other networks, correct too.
    /// </summary>
    public static Tensor WithCanonicalStrides(Tensor x, Func<Tensor, Tensor> op)
    {
        var input = x.is_contiguous() ? Layouts.Standard(x) : x;
        try { return op(input); }
        finally { if (!ReferenceEquals(input, x)) input.Dispose(); }
    }

    /// <summary>
    /// The physical axis of a convolution's output that Keras's axis-dependent activations (softmax, log_softmax,
    /// sparsemax) reduce over: Keras applies them over the last axis of the layer's output. A <c>channels_last</c> layer
    /// computes in channels-first layout, so its last (channel) axis is physical axis 1; a <c>channels_first</c> layer
    /// computes in its own layout, whose last axis is the last spatial one.
    /// </summary>
    public static long ActivationAxis(DataFormat dataFormat) => dataFormat.IsChannelsLast ? 1 : -1;

    /// <summary>F.conv_transpose1d/2d/3d by rank, with no padding: the full transposed output.</summary>
    public static Tensor ConvTranspose(int rank, Tensor x, Tensor weight, long[] strides, long[] dilation)
    {
        var zeros = new long[rank];
        return WithCanonicalStrides(x, input => rank switch
        {
            1 => F.conv_transpose1d(input, weight, null, strides[0], 0, 0, dilation[0]),
            2 => F.conv_transpose2d(input, weight, null, strides, zeros, zeros, dilation),
            _ => F.conv_transpose3d(input, weight, null, strides, zeros, zeros, dilation),
        });
    }

    /// <summary>Torch → Keras permutation for a kernel stored as (a, b, k…) and shown by Keras as (k…, a, b) when <paramref name="swap"/> is false, (k…, b, a) when true.</summary>
    public static long[] KernelLast(int rank, bool swap) =>
        [.. Enumerable.Range(2, rank).Select(i => (long)i), swap ? 1 : 0, swap ? 0 : 1];

    public static long[] Longs(IntTuple t) => t.Select(v => (long)v).ToArray();
}

/// <summary>
/// SeparableConv1D/2D: a grouped (one group per input channel) convolution with TF padding, then a 1×1 convolution.
/// The depthwise kernel is stored as (in, dm, k…) so that Keras's (k…, in, dm) is a permutation of it; it is reshaped to
/// PyTorch's grouped layout (in·dm, 1, k…) — output channel c·dm + m, as TensorFlow orders them — in the forward pass.
/// </summary>
internal sealed class BuiltSeparableConv : BuiltLayer
{
    private readonly SeparableConv conv;
    private readonly Parameter depthwise;   // (in, dm, k...)
    private readonly Parameter pointwise;   // (filters, in*dm, 1...)
    private readonly Parameter? bias;
    private readonly long[] strides, dilation, depthwiseShape, ones, unitDilation;
    private readonly CallPadding padding;   // per call, from the input's spatial lengths
    private readonly long channels;

    public BuiltSeparableConv(SeparableConv layer, Shape input, BuildContext context) : base(layer, input)
    {
        conv = layer;
        layer.Parameters(input);   // the input must suit the weights (a shape error naming the layer otherwise)
        var rank = layer.Rank;
        channels = input.Known(layer.DataFormat.ChannelAxis(input.Rank));
        var kernel = ConvOps.Longs(layer.KernelSize);
        depthwise = DeclareWeight("depthwise_kernel", context, ConvOps.KernelLast(rank, swap: false));   // stored (in, dm, k…); Keras (k…, in, dm)
        ones = Enumerable.Repeat(1L, rank).ToArray();
        pointwise = DeclareWeight("pointwise_kernel", context, ConvOps.KernelLast(rank, swap: true));   // stored (filters, in·dm, 1…); Keras (1…, in·dm, filters)
        if (layer.UseBias) bias = DeclareWeight("bias", context);
        depthwiseShape = [channels * layer.DepthMultiplier, 1, .. kernel];
        strides = ConvOps.Longs(layer.Strides);
        dilation = ConvOps.Longs(layer.DilationRate);
        unitDilation = ones;
        padding = new CallPadding(layer.Window);
        RegisterComponents();
    }

    public override PhysicalLayout Layout => ComputeLayouts.Of(conv.DataFormat);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (symmetricPadding, explicitPadding) = padding.For(x);
        var input = explicitPadding is null ? x : F.pad(x, explicitPadding);
        var mid = ConvOps.Conv(conv.Rank, input, depthwise.reshape(depthwiseShape), null, strides, symmetricPadding, dilation, channels);
        var y = ConvOps.Conv(conv.Rank, mid, pointwise, bias, ones, new long[conv.Rank], unitDilation, 1);
        if (!conv.Activation.IsLinear) y = ActivationOps.Apply(conv.Activation, y, ConvOps.ActivationAxis(conv.DataFormat));
        return y.MoveToOuterDisposeScope();
    }

}

internal sealed class SeparableConvBuilder : LayerBuilder<SeparableConv>
{
    public override BuiltLayer Build(SeparableConv layer, Shape input, BuildContext context) => new BuiltSeparableConv(layer, input, context);
}

/// <summary>
/// DepthwiseConv1D/2D: a convolution with one group per input channel and TF padding. The kernel is stored as (in, dm, k…)
/// (Keras's (k…, in, dm) by permutation) and reshaped to (in·dm, 1, k…) in the forward pass.
/// </summary>
internal sealed class BuiltDepthwiseConv : BuiltLayer
{
    private readonly DepthwiseConv conv;
    private readonly Parameter kernel;   // (in, dm, k...)
    private readonly Parameter? bias;
    private readonly long[] strides, dilation, groupedShape;
    private readonly CallPadding padding;   // per call, from the input's spatial lengths
    private readonly long channels;

    public BuiltDepthwiseConv(DepthwiseConv layer, Shape input, BuildContext context) : base(layer, input)
    {
        conv = layer;
        layer.Parameters(input);   // the input must suit the weights (a shape error naming the layer otherwise)
        channels = input.Known(layer.DataFormat.ChannelAxis(input.Rank));
        var k = ConvOps.Longs(layer.KernelSize);
        kernel = DeclareWeight("kernel", context, ConvOps.KernelLast(layer.Rank, swap: false));   // stored (in, dm, k…); Keras (k…, in, dm)
        if (layer.UseBias) bias = DeclareWeight("bias", context);
        groupedShape = [channels * layer.DepthMultiplier, 1, .. k];
        strides = ConvOps.Longs(layer.Strides);
        dilation = ConvOps.Longs(layer.DilationRate);
        padding = new CallPadding(layer.Window);
        RegisterComponents();
    }

    public override PhysicalLayout Layout => ComputeLayouts.Of(conv.DataFormat);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (symmetricPadding, explicitPadding) = padding.For(x);
        var input = explicitPadding is null ? x : F.pad(x, explicitPadding);
        var y = ConvOps.Conv(conv.Rank, input, kernel.reshape(groupedShape), bias, strides, symmetricPadding, dilation, channels);
        if (!conv.Activation.IsLinear) y = ActivationOps.Apply(conv.Activation, y, ConvOps.ActivationAxis(conv.DataFormat));
        return y.MoveToOuterDisposeScope();
    }

}

internal sealed class DepthwiseConvBuilder : LayerBuilder<DepthwiseConv>
{
    public override BuiltLayer Build(DepthwiseConv layer, Shape input, BuildContext context) => new BuiltDepthwiseConv(layer, input, context);
}

/// <summary>
/// Conv1D/2D/3DTranspose: PyTorch's transposed convolution without padding gives the full output ((n−1)·s + k' per axis);
/// it is then cropped — or zero-extended at the end — exactly as Keras defines (<see cref="ConvArithmetic.ConvTransposeCrop"/>),
/// which PyTorch's symmetric padding plus output_padding cannot express in general. The bias is added afterwards, so
/// zero-extended positions hold the bias, as in TensorFlow.
/// </summary>
internal sealed class BuiltConvTranspose : BuiltLayer
{
    private readonly ConvTranspose conv;
    private readonly Parameter weight;   // (in, filters, k...)
    private readonly Parameter? bias;
    private readonly long[] strides, dilation, crop, biasShape;

    public BuiltConvTranspose(ConvTranspose layer, Shape input, BuildContext context) : base(layer, input)
    {
        conv = layer;
        layer.Parameters(input);   // the input must suit the weights (a shape error naming the layer otherwise)
        var rank = layer.Rank;
        var channels = input.Known(layer.DataFormat.ChannelAxis(input.Rank));
        weight = DeclareWeight("kernel", context, ConvOps.KernelLast(rank, swap: true));   // stored (in, filters, k…); Keras (k…, filters, in)
        if (layer.UseBias) bias = DeclareWeight("bias", context);
        biasShape = [1, layer.Filters, .. Enumerable.Repeat(1L, rank)];
        strides = ConvOps.Longs(layer.Strides);
        dilation = ConvOps.Longs(layer.DilationRate);
        // F.pad order: last axis first; negative amounts crop.
        crop = Enumerable.Range(0, rank).Reverse()
            .SelectMany(i =>
            {
                var (before, after) = ConvArithmetic.ConvTransposeCrop(layer.KernelSize[i], layer.Strides[i], layer.Padding,
                    layer.OutputPaddingAt(i), layer.DilationRate[i]);
                return new long[] { -before, -after };
            }).ToArray();
        RegisterComponents();
    }

    public override PhysicalLayout Layout => ComputeLayouts.Of(conv.DataFormat);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var full = ConvOps.ConvTranspose(conv.Rank, x, weight, strides, dilation);
        var y = crop.All(c => c == 0) ? full : F.pad(full, crop);
        if (bias is not null) y = y + bias.view(biasShape);
        if (!conv.Activation.IsLinear) y = ActivationOps.Apply(conv.Activation, y, ConvOps.ActivationAxis(conv.DataFormat));
        return y.MoveToOuterDisposeScope();
    }

}

internal sealed class ConvTransposeBuilder : LayerBuilder<ConvTranspose>
{
    public override BuiltLayer Build(ConvTranspose layer, Shape input, BuildContext context) => new BuiltConvTranspose(layer, input, context);
}
