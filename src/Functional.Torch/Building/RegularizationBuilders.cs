using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Formats;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Random draws for the noise layers: the layer's own generator when seeded (on the layer's device), else the
/// call's (drawn on the CPU and moved), else torch's global one.</summary>
internal static class NoiseDraws
{
    public static Tensor Draw(long[] shape, Tensor like, Generator? own, ForwardContext context, Action<Tensor, Generator?> fill)
    {
        if (own is not null || context.Generator is null)
        {
            var t = torch.empty(shape, like.dtype, like.device);
            fill(t, own);
            return t;
        }
        var cpu = torch.empty(shape, like.dtype, CPU);
        fill(cpu, context.Generator);
        if (like.device_type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(like.device);
    }
}

/// <summary>The noise layers (spatial dropouts, GaussianNoise, GaussianDropout, AlphaDropout): the identity at inference,
/// Keras's formulas in a training call.</summary>
internal sealed class BuiltNoise : BuiltLayer
{
    private readonly Generator? generator;

    public BuiltNoise(Layer layer, Shape input, BuildContext context) : base(layer, input)
    {
        var seed = layer switch
        {
            SpatialDropout s => s.Seed,
            GaussianNoise g => g.Seed,
            GaussianDropout g => g.Seed,
            AlphaDropout a => a.Seed,
            _ => throw new NotSupportedException($"{layer.Describe()}: not a noise layer."),
        };
        if (seed is { } s2) generator = new Generator((ulong)s2, context.TorchDevice);
    }

    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        generator is null ? [] : [("seed_generator", generator)];

    public override Tensor forward(Tensor x) => x.alias();

    protected override Tensor Call(IReadOnlyList<Tensor> inputs, ForwardContext context)
    {
        var x = inputs.Count == 1 ? inputs[0] : throw new ArgumentException($"{Layer.Describe()} takes one input; received {inputs.Count}.", nameof(inputs));
        if (!context.Training) return x.alias();
        using var scope = NewDisposeScope();
        Tensor y;
        switch (Layer)
        {
            case SpatialDropout s:
            {
                if (s.Rate == 0) return x.alias().MoveToOuterDisposeScope();
                if (s.Rate >= 1) return torch.zeros_like(x).MoveToOuterDisposeScope();
                // One draw per sample and channel: (batch, 1, …, channels) or (batch, channels, 1, …).
                var shape = x.shape.Select((d, i) => i == 0 || i == s.ChannelAxis + 1 ? d : 1L).ToArray();
                var keep = NoiseDraws.Draw(shape, x, generator, context, (t, g) => t.bernoulli_(1 - s.Rate, g));
                y = x * keep / (1 - s.Rate);
                break;
            }
            case GaussianNoise g:
            {
                if (g.Stddev == 0) return x.alias().MoveToOuterDisposeScope();
                var noise = NoiseDraws.Draw(x.shape, x, generator, context, (t, gen) => t.normal_(0, g.Stddev, gen));
                y = x + noise;
                break;
            }
            case GaussianDropout g:
            {
                if (g.Rate == 0) return x.alias().MoveToOuterDisposeScope();
                if (g.Rate >= 1) return torch.zeros_like(x).MoveToOuterDisposeScope();
                var stddev = Math.Sqrt(g.Rate / (1 - g.Rate));
                var noise = NoiseDraws.Draw(x.shape, x, generator, context, (t, gen) => t.normal_(1, stddev, gen));
                y = x * noise;
                break;
            }
            case AlphaDropout a:
            {
                if (a.Rate == 0) return x.alias().MoveToOuterDisposeScope();
                const double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
                var alphaP = -alpha * scale;
                var shape = a.NoiseShape.Count == 0 ? x.shape : a.NoiseShape.Select((d, i) => d == -1 ? x.shape[i] : d).ToArray();
                var uniform = NoiseDraws.Draw(shape, x, generator, context, (t, gen) => t.uniform_(0, 1, gen));
                var kept = uniform.ge(a.Rate).to_type(x.dtype);
                var scaleA = Math.Pow((1 - a.Rate) * (1 + a.Rate * alphaP * alphaP), -0.5);
                var b = -scaleA * alphaP * a.Rate;
                y = (x * kept + (1 - kept) * alphaP) * scaleA + b;
                break;
            }
            default: throw new NotSupportedException($"{Layer.Describe()}: not a noise layer.");
        }
        return y.MoveToOuterDisposeScope();
    }
}

internal sealed class SpatialDropoutBuilder : LayerBuilder<SpatialDropout>
{
    public override BuiltLayer Build(SpatialDropout layer, Shape input, BuildContext context) => new BuiltNoise(layer, input, context);
}

internal sealed class GaussianNoiseBuilder : LayerBuilder<GaussianNoise>
{
    public override BuiltLayer Build(GaussianNoise layer, Shape input, BuildContext context) => new BuiltNoise(layer, input, context);
}

internal sealed class GaussianDropoutBuilder : LayerBuilder<GaussianDropout>
{
    public override BuiltLayer Build(GaussianDropout layer, Shape input, BuildContext context) => new BuiltNoise(layer, input, context);
}

internal sealed class AlphaDropoutBuilder : LayerBuilder<AlphaDropout>
{
    public override BuiltLayer Build(AlphaDropout layer, Shape input, BuildContext context) => new BuiltNoise(layer, input, context);
}

/// <summary>Keras's UnitNormalization: <c>x · min(rsqrt(Σx²), 1e12)</c> over the axes.</summary>
internal sealed class BuiltUnitNormalization : BuiltLayer
{
    private readonly long[] axes;

    public BuiltUnitNormalization(UnitNormalization layer, Shape input) : base(layer, input) =>
        axes = [.. layer.SampleAxes(input).Select(a => (long)a + 1)];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inv = x.square().sum(axes, keepdim: true).rsqrt().clamp_max(1e12);
        return (x * inv).MoveToOuterDisposeScope();
    }
}

internal sealed class UnitNormalizationBuilder : LayerBuilder<UnitNormalization>
{
    public override BuiltLayer Build(UnitNormalization layer, Shape input, BuildContext context) => new BuiltUnitNormalization(layer, input);
}

/// <summary>Keras's GroupNormalization: the channel axis split into groups, moments over each group and the other
/// axes (in at least float32, as Keras computes them), then γ and β per channel.</summary>
internal sealed class BuiltGroupNormalization : BuiltLayer
{
    private readonly Parameter? gamma, beta;
    private readonly long axis;    // with the batch axis
    private readonly int groups;
    private readonly double epsilon;

    public BuiltGroupNormalization(GroupNormalization layer, Shape input, BuildContext context) : base(layer, input)
    {
        var (a, g) = layer.Resolve(input);
        axis = a + 1;
        groups = g ?? throw new ShapeException(layer, [input], a, "the channel axis must be defined to create the layer's weights. Found None.");
        epsilon = layer.Epsilon;
        if (layer.Scale) gamma = DeclareWeight("gamma", context);
        if (layer.Center) beta = DeclareWeight("beta", context);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var compute = x.dtype is ScalarType.Float64 ? x : x.to_type(ScalarType.Float32);
        var last = compute.movedim([axis], [compute.dim() - 1]);   // (batch, …, channels)
        var shape = last.shape;
        var channels = shape[^1];
        var grouped = last.reshape(shape[0], -1, groups, channels / groups);
        var mean = grouped.mean([1L, 3L], keepdim: true);
        var variance = (grouped - mean).square().mean([1L, 3L], keepdim: true);
        var normalized = ((grouped - mean) * (variance + epsilon).rsqrt()).reshape(shape);
        if (gamma is not null) normalized = normalized * gamma.to_type(normalized.dtype);
        if (beta is not null) normalized = normalized + beta.to_type(normalized.dtype);
        return normalized.movedim([normalized.dim() - 1], [axis]).to_type(x.dtype).MoveToOuterDisposeScope();
    }
}

internal sealed class GroupNormalizationBuilder : LayerBuilder<GroupNormalization>
{
    public override BuiltLayer Build(GroupNormalization layer, Shape input, BuildContext context) => new BuiltGroupNormalization(layer, input, context);
}
