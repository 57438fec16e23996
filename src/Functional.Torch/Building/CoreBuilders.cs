using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>Helpers shared by builders.</summary>
internal static class BuildHelpers
{
    /// <summary>
    /// A parameter with the given PyTorch-layout shape, filled by the spec's initializer: values are sampled in Keras's
    /// layout (fans from it) and moved into PyTorch's by <paramref name="kerasPermutation"/> (PyTorch → Keras, the one
    /// passed to <c>Bind</c>; null when the parameter is stored in Keras's layout), in the layer's variable dtype
    /// (<see cref="BuildContext.VariableType"/>). Every weight states its layout here:
    /// it is never guessed from shapes, which coincide for some layers (e.g. a 3×3 Conv2D with 3 filters on 3 channels).
    /// </summary>
    public static Parameter CreateParameter(ParameterSpec spec, long[] torchShape, long[]? kerasPermutation, BuildContext context)
    {
        // In the layer's variable dtype (float32 under the mixed policies; see BuildContext.Policy), unless the weight
        // declares its own (a counter's int64).
        var dtype = spec.Dtype switch
        {
            null => context.VariableType,
            "float32" => ScalarType.Float32,
            "int64" => ScalarType.Int64,
            "int32" => ScalarType.Int32,
            "float64" => ScalarType.Float64,
            var other => throw new NotSupportedException($"Weight '{spec.Name}': dtype '{other}' is not supported."),
        };
        var t = torch.empty(torchShape, dtype, context.TorchDevice);
        InitializerSampling.Fill(t, spec.Initializer, spec.Shape.ToKnownArray(), kerasPermutation);
        return new Parameter(t, requires_grad: spec.Trainable);
    }
}

internal sealed class BuiltDense : BuiltLayer
{
    private readonly Parameter weight;   // PyTorch layout (units, in)
    private readonly Parameter? bias;
    private readonly LoraAdapter? lora;
    private readonly Dense dense;

    public BuiltDense(Dense layer, Shape input, BuildContext context) : base(layer, input)
    {
        dense = layer;
        weight = DeclareWeight("kernel", context, [1, 0]);   // stored as PyTorch's (units, in); Keras's (in, units)
        if (layer.UseBias) bias = DeclareWeight("bias", context);
        if (layer.LoraRank is { } rank)
            lora = new LoraAdapter(DeclareWeight("lora_kernel_a", context), DeclareWeight("lora_kernel_b", context), rank, layer.LoraAlpha);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        Tensor y;
        if (lora is null) y = F.linear(x, weight, bias);
        else
        {
            // Keras's LoRA kernel: kernel + (a · b) · alpha / rank, transposed into PyTorch's (units, in).
            using var delta = lora.Delta();
            using var deltaT = delta.t();
            using var w = weight + deltaT;
            y = F.linear(x, w, bias);
        }
        if (dense.Activation.IsLinear) return y;
        using (y) return ActivationOps.Apply(dense.Activation, y);
    }

}

/// <summary>
/// Keras's LoRA adapter of a kernel (<see cref="Lora"/>): <c>lora_kernel_a</c> and <c>lora_kernel_b</c> kept in Keras's
/// layout, and the scaled delta <c>(a · b) · alpha / rank</c> in the kernel's Keras layout.
/// </summary>
internal sealed class LoraAdapter : nn.Module
{
    private readonly Parameter lora_kernel_a, lora_kernel_b;
    private readonly double scale;

    /// <summary>Holds the two weights the owning layer declared (<c>lora_kernel_a</c>, <c>lora_kernel_b</c>, Keras's layout).</summary>
    public LoraAdapter(Parameter a, Parameter b, int rank, double? alpha) : base("lora")
    {
        lora_kernel_a = a;
        lora_kernel_b = b;
        scale = Lora.Scale(rank, alpha);
        RegisterComponents();
    }

    /// <summary><c>(a · b) · scale</c> in the kernel's Keras layout: <c>(…, in, out)</c>.</summary>
    public Tensor Delta()
    {
        using var product = lora_kernel_a.matmul(lora_kernel_b);
        return product * scale;
    }
}

internal sealed class DenseBuilder : LayerBuilder<Dense>
{
    public override BuiltLayer Build(Dense layer, Shape input, BuildContext context) => new BuiltDense(layer, input, context);
}

internal sealed class BuiltActivation : BuiltLayer
{
    private readonly ActivationFunction function;
    public BuiltActivation(Activation layer, Shape input) : base(layer, input) => function = layer.Function;
    public override PhysicalLayout Layout => ActivationOps.IsAxisDependent(function) ? PhysicalLayout.Logical : PhysicalLayout.Any;
    public override Tensor forward(Tensor x) => ActivationOps.Apply(function, x);
}

internal sealed class ActivationBuilder : LayerBuilder<Activation>
{
    public override BuiltLayer Build(Activation layer, Shape input, BuildContext context) => new BuiltActivation(layer, input);
}

internal sealed class BuiltDropout : BuiltLayer
{
    private readonly double rate;
    private readonly Generator? generator;
    private readonly long[]? noiseShape;   // Keras's noise_shape with the batch axis, -1 = the input's size

    public BuiltDropout(Dropout layer, Shape input, BuildContext context) : base(layer, input)
    {
        rate = layer.Rate;
        // A seeded dropout draws its masks from its own generator, as Keras's seeded layers do.
        if (layer.Seed is { } s) generator = new Generator((ulong)s, context.TorchDevice);
        if (layer.NoiseShape.Count > 0) noiseShape = layer.NoiseShape.Select(d => (long)d).ToArray();
    }

    // A noise shape is in the Keras layout, unless it broadcasts over every per-sample axis (then any layout will do).
    public override PhysicalLayout Layout =>
        noiseShape is null || noiseShape.Skip(1).All(d => d == 1) ? PhysicalLayout.Any : PhysicalLayout.Logical;

    public override Tensor forward(Tensor x) => Drop(x, training, null);

    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        generator is null ? [] : [("seed_generator", generator)];

    // The call says whether it trains and which generator unseeded masks come from (the module's mode is not used).
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, ForwardContext context) =>
        inputs.Count == 1
            ? Drop(inputs[0], context.Training, context.Generator)
            : throw new ArgumentException($"{Layer.Describe()} takes one input; received {inputs.Count}.", nameof(inputs));

    private Tensor Drop(Tensor x, bool train, Generator? callGenerator)
    {
        if (!train || rate == 0) return x.alias();
        if (rate >= 1) return torch.zeros_like(x);
        var shape = noiseShape?.Select((d, i) => d == -1 ? x.shape[i] : d).ToArray();
        if (shape is not null && shape[0] != 1 && shape[0] != x.shape[0])
            throw new ArgumentException(
                $"{Layer.Describe()}: noiseShape has batch size {shape[0]}, but the batch has {x.shape[0]} samples; use -1 (None) for the batch axis.");
        // A seeded layer uses its own generator (on the layer's device); an unseeded one the call's (a CPU generator, so
        // its masks are drawn on the CPU and moved), or torch's global one when the call has none.
        if (generator is null && callGenerator is null && shape is null) return F.dropout(x, rate, training: true);
        Tensor keep;
        if (generator is not null || callGenerator is null)
            keep = torch.empty(shape ?? x.shape, x.dtype, x.device).bernoulli_(1 - rate, generator);
        else
        {
            keep = torch.empty(shape ?? x.shape, x.dtype, CPU).bernoulli_(1 - rate, callGenerator);
            if (x.device_type != DeviceType.CPU) { var moved = keep.to(x.device); keep.Dispose(); keep = moved; }
        }
        using (keep) return x * keep / (1 - rate);
    }
}

internal sealed class DropoutBuilder : LayerBuilder<Dropout>
{
    public override BuiltLayer Build(Dropout layer, Shape input, BuildContext context) => new BuiltDropout(layer, input, context);
}

internal sealed class BuiltFlatten : BuiltLayer
{
    private readonly bool moveChannelsLast;
    public BuiltFlatten(Flatten layer, Shape input) : base(layer, input) =>
        moveChannelsLast = !layer.DataFormat.IsChannelsLast && input.Rank > 1;

    public override Tensor forward(Tensor x)
    {
        if (!moveChannelsLast) return x.flatten(1);
        // Keras moves channels last before flattening a channels_first input.
        var perm = new long[x.dim()];
        perm[0] = 0;
        for (var i = 1; i < perm.Length - 1; i++) perm[i] = i + 1;
        perm[^1] = 1;
        using var t = x.permute(perm);
        return t.flatten(1);
    }
}

internal sealed class FlattenBuilder : LayerBuilder<Flatten>
{
    public override BuiltLayer Build(Flatten layer, Shape input, BuildContext context) => new BuiltFlatten(layer, input);
}
