using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>
/// Conv1D/2D/3D as one rank-generic module. <c>channels_last</c> layers compute in PyTorch's channels-first layout
/// (the model permutes once around runs of such layers). TF <c>same</c> padding is exact: symmetric padding goes to the
/// convolution itself, an odd total is padded explicitly with the extra element after.
/// </summary>
internal sealed class BuiltConv : BuiltLayer
{
    private readonly Parameter weight;   // (out, in/groups, k...)
    private readonly Parameter? bias;
    private readonly LoraAdapter? lora;
    private readonly long[]? loraToTorch;   // the LoRA delta, Keras (k..., in/groups, out) → PyTorch (out, in/groups, k...)
    private readonly Conv conv;
    private readonly long[] strides, dilation;
    private readonly CallPadding padding;   // per call, from the input's spatial lengths

    public BuiltConv(Conv layer, Shape input, BuildContext context) : base(layer, input)
    {
        conv = layer;
        var rank = layer.Rank;
        // Stored as PyTorch's (out, in/groups, k...); Keras's kernel is (k..., in/groups, out).
        weight = DeclareWeight("kernel", context, ConvOps.KernelLast(rank, swap: true));
        if (layer.UseBias) bias = DeclareWeight("bias", context);
        if (layer.LoraRank is { } loraRank)
        {
            lora = new LoraAdapter(DeclareWeight("lora_kernel_a", context), DeclareWeight("lora_kernel_b", context), loraRank, layer.LoraAlpha);
            loraToTorch = [rank + 1, rank, .. Enumerable.Range(0, rank).Select(i => (long)i)];
        }
        strides = layer.Strides.Select(s => (long)s).ToArray();
        dilation = layer.DilationRate.Select(d => (long)d).ToArray();
        padding = new CallPadding(layer.Window);
        RegisterComponents();
    }

    public override PhysicalLayout Layout => ComputeLayouts.Of(conv.DataFormat);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (symmetricPadding, explicitPadding) = padding.For(x);
        var input = explicitPadding is null ? x : F.pad(x, explicitPadding);
        // ConvOps.Conv gives one-channel inputs permuted from channels_last row-major strides (a libtorch CPU bug, see ConvOps.WithCanonicalStrides).
        // Keras's LoRA kernel: kernel + (a · b) · alpha / rank.
        var kernel = lora is null ? weight : weight + lora.Delta().permute(loraToTorch!);
        var y = ConvOps.Conv(conv.Rank, input, kernel, bias, strides, symmetricPadding, dilation, conv.Groups);
        if (!conv.Activation.IsLinear) y = ActivationOps.Apply(conv.Activation, y, ConvOps.ActivationAxis(conv.DataFormat));
        return y.MoveToOuterDisposeScope();
    }

}

internal sealed class ConvBuilder : LayerBuilder<Conv>
{
    public override BuiltLayer Build(Conv layer, Shape input, BuildContext context) => new BuiltConv(layer, input, context);
}
