using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Pieces the attention layers share: Keras's masked softmax and the dropout of attention probabilities.</summary>
internal static class AttentionOps
{
    /// <summary>Keras's <c>_large_negative_number</c>: −1e9, or −3e4 in float16.</summary>
    public static double LargeNegative(ScalarType dtype) => dtype == ScalarType.Float16 ? -3e4 : -1e9;

    /// <summary>
    /// Keras 3's <c>Softmax(axis)(x, mask)</c>: masked positions get a large negative number before the softmax and 0 after
    /// it (so a fully masked row is zeros); several axes are normalised jointly.
    /// </summary>
    public static Tensor MaskedSoftmax(Tensor x, Tensor? mask, long[] axes)
    {
        using var scope = NewDisposeScope();
        var input = mask is null ? x : torch.where(mask, x, torch.full_like(x, LargeNegative(x.dtype)));
        Tensor y;
        if (axes.Length == 1) y = input.softmax(axes[0]);
        else
        {
            var shifted = (input - input.amax(axes, keepdim: true)).exp();
            y = shifted / shifted.sum(axes, keepdim: true);
        }
        if (mask is not null) y = y * mask.to_type(y.dtype);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Keras's dropout in a training call: keep with probability 1 − rate, scale by 1/(1 − rate); the layer's
    /// own generator when seeded, else the call's (drawn on the CPU), else torch's global one.</summary>
    public static Tensor Dropout(Tensor x, double rate, ForwardContext context, Generator? own)
    {
        if (!context.Training || rate == 0) return x.alias();
        if (rate >= 1) return torch.zeros_like(x);
        Tensor keep;
        if (own is not null || context.Generator is null)
            keep = torch.empty(x.shape, x.dtype, x.device).bernoulli_(1 - rate, own);
        else
        {
            keep = torch.empty(x.shape, x.dtype, CPU).bernoulli_(1 - rate, context.Generator);
            if (x.device_type != DeviceType.CPU) { var moved = keep.to(x.device); keep.Dispose(); keep = moved; }
        }
        using (keep) return x * keep / (1 - rate);
    }

    /// <summary>Keras's causal mask: (1, T, S), True where the query step i may see key step j (j ≤ i).</summary>
    public static Tensor CausalMask(long t, long s, torch.Device device)
    {
        using var rows = torch.arange(t, device: device).unsqueeze(1);
        using var cols = torch.arange(s, device: device).unsqueeze(0);
        using var allowed = rows.ge(cols);
        return allowed.unsqueeze(0);
    }

    /// <summary>An AND of two optional masks.</summary>
    public static Tensor? And(Tensor? a, Tensor? b) => a is null ? b : b is null ? a : a.logical_and(b);

    /// <summary>A Keras mask as bool (a 0/1 tensor becomes True where non-zero).</summary>
    public static Tensor AsBool(Tensor m) => m.dtype == ScalarType.Bool ? m : m.ne(0);
}

internal sealed class BuiltEinsumDense : BuiltLayer
{
    private readonly Parameter kernel;   // Keras's layout: the einsum reads it as declared
    private readonly Parameter? bias;
    private readonly string equation;
    private readonly ActivationFunction activation;

    public BuiltEinsumDense(EinsumDense layer, Shape input, BuildContext context) : base(layer, input)
    {
        equation = layer.Equation.Replace(" ", "");
        activation = layer.Activation;
        kernel = DeclareWeight("kernel", context);
        if (layer.BiasAxes is not null) bias = DeclareWeight("bias", context);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = torch.einsum(equation, x, kernel);
        if (bias is not null) { var b = y + bias; y.Dispose(); y = b; }
        if (activation.IsLinear) return y;
        using (y) return ActivationOps.Apply(activation, y);
    }
}

internal sealed class EinsumDenseBuilder : LayerBuilder<EinsumDense>
{
    public override BuiltLayer Build(EinsumDense layer, Shape input, BuildContext context) => new BuiltEinsumDense(layer, input, context);
}

/// <summary>
/// Keras's MultiHeadAttention: four einsum projections whose weights live in this module under Keras's paths
/// (<c>query/kernel</c>, …, <c>attention_output/bias</c>), and the attention between them (Keras's explicit path:
/// scaled query, <c>einsum(dot_product_equation, key, query)</c>, masked softmax over the attention axes, dropout,
/// <c>einsum(combine_equation, probabilities, value)</c>).
/// </summary>
internal sealed class BuiltMultiHeadAttention : BuiltLayer
{
    private readonly MultiHeadAttention mha;
    private readonly MultiHeadAttention.AttentionPlan plan;
    private readonly Parameter queryKernel, keyKernel, valueKernel, outputKernel;
    private readonly Parameter? queryBias, keyBias, valueBias, outputBias;
    private readonly Generator? generator;

    public BuiltMultiHeadAttention(MultiHeadAttention layer, IReadOnlyList<Shape> inputs, BuildContext context) : base(layer, inputs)
    {
        mha = layer;
        plan = layer.Plan(inputs);
        queryKernel = DeclareWeight("query/kernel", context);
        if (layer.UseBias) queryBias = DeclareWeight("query/bias", context);
        keyKernel = DeclareWeight("key/kernel", context);
        if (layer.UseBias) keyBias = DeclareWeight("key/bias", context);
        valueKernel = DeclareWeight("value/kernel", context);
        if (layer.UseBias) valueBias = DeclareWeight("value/bias", context);
        outputKernel = DeclareWeight("attention_output/kernel", context);
        if (layer.UseBias) outputBias = DeclareWeight("attention_output/bias", context);
        if (layer.Seed is { } s) generator = new Generator((ulong)s, context.TorchDevice);
        RegisterComponents();
    }

    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        generator is null ? [] : [("seed_generator", generator)];

    public override Tensor forward(Tensor x) =>
        throw new ArgumentException($"{Layer.Describe()} takes [query, value] (and optionally key and attention_mask); received one tensor.");

    public override Tensor Forward(IReadOnlyList<Tensor> inputs) => Call(inputs, [], ForwardContext.Inference);

    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context)
    {
        var outputs = Attend(inputs, masks, context, scores: false);
        return outputs[0];
    }

    protected override IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Attend(inputs, masks, context, scores: true);

    public override IReadOnlyList<Tensor?> ComputeMasks(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        Layer.OutputCount == 1 ? [ComputeMask(inputs, masks)] : [ComputeMask(inputs, masks), null];

    // Keras: the output carries the query's mask.
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        masks.Count > 0 ? masks[0] : null;

    private static Tensor Project(string equation, Tensor x, Parameter kernel, Parameter? bias)
    {
        var y = torch.einsum(equation, x, kernel);
        return bias is null ? y : y + bias;
    }

    private Tensor[] Attend(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context, bool scores)
    {
        if (inputs.Count != InputShapes.Count)
            throw new ArgumentException($"{Layer.Describe()} was built for {InputShapes.Count} inputs; received {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        var query = inputs[0];
        var value = inputs[1];
        var key = inputs.Count > 2 ? inputs[2] : value;
        Tensor? Mask(int i) => i < masks.Count && masks[i] is { } m ? AttentionOps.AsBool(m) : null;
        // Keras's _compute_attention_mask: query (B, T) → (B, T, 1), value and key (B, S) → (B, 1, S), causal (1, T, S),
        // then AND with the attention mask.
        Tensor? auto = Mask(0)?.unsqueeze(-1);
        auto = AttentionOps.And(auto, Mask(1)?.unsqueeze(-2));
        if (inputs.Count > 2) auto = AttentionOps.And(auto, Mask(2)?.unsqueeze(-2));
        if (mha.UseCausalMask) auto = AttentionOps.And(auto, AttentionOps.CausalMask(query.shape[1], value.shape[1], query.device));
        var attentionMask = inputs.Count > 3 ? AttentionOps.And(AttentionOps.AsBool(inputs[3]), auto) : auto;

        var q = Project(plan.QueryDense.Equation, query, queryKernel, queryBias);
        var k = Project(plan.KeyDense.Equation, key, keyKernel, keyBias);
        var v = Project(plan.ValueDense.Equation, value, valueKernel, valueBias);
        if (context.Training && Layer.ActivityRegularizer is { } r)
            foreach (var projected in new[] { q, k, v })   // Keras's projections carry the activity regularizer too
                context.ActivityPenalties.Add((RegularizerOps.Penalty(r, projected) / projected.shape[0]).MoveToOuterDisposeScope());
        q = q * (1.0 / Math.Sqrt(mha.KeyDim));
        var logits = torch.einsum(plan.DotProductEquation, k, q);
        if (attentionMask is not null)
        {
            // Keras's _masked_softmax: expand from the heads axis until the ranks agree.
            var axis = -plan.Axes.Length * 2 - 1;
            while (attentionMask.dim() < logits.dim()) attentionMask = attentionMask.unsqueeze(axis);
        }
        var probabilities = AttentionOps.MaskedSoftmax(logits, attentionMask, [.. plan.NormAxes.Select(a => (long)a)]);
        var dropped = mha.Dropout > 0 ? AttentionOps.Dropout(probabilities, mha.Dropout, context, generator) : probabilities;
        var combined = torch.einsum(plan.CombineEquation, dropped, v);
        var output = Project(plan.OutputDense.Equation, combined, outputKernel, outputBias);
        output.MoveToOuterDisposeScope();
        if (!scores) return [output];
        probabilities.MoveToOuterDisposeScope();
        return [output, probabilities];
    }
}

internal sealed class MultiHeadAttentionBuilder : MultiInputLayerBuilder<MultiHeadAttention>
{
    public override BuiltLayer Build(MultiHeadAttention layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        new BuiltMultiHeadAttention(layer, inputShapes, context);
}

/// <summary>Keras's Attention and AdditiveAttention: scores, the value mask and causal mask subtracted as Keras's
/// <c>_apply_scores</c> does, softmax over the value steps, dropout, then the weighted values; the query's mask zeroes
/// masked output steps.</summary>
internal sealed class BuiltAttention : BuiltLayer
{
    private readonly Parameter? scale, concatScoreWeight;
    private readonly bool additive, concat, causal;
    private readonly double dropout;
    private readonly Generator? generator;

    public BuiltAttention(Layer layer, IReadOnlyList<Shape> inputs, BuildContext context) : base(layer, inputs)
    {
        switch (layer)
        {
            case Attention a:
                if (a.UseScale) scale = DeclareWeight("scale", context);
                if (a.ScoreMode == "concat") { concat = true; concatScoreWeight = DeclareWeight("concat_score_weight", context); }
                (causal, dropout) = (a.UseCausalMask, a.Dropout);
                if (a.Seed is { } s) generator = new Generator((ulong)s, context.TorchDevice);
                break;
            case AdditiveAttention a:
                additive = true;
                if (a.UseScale) scale = DeclareWeight("scale", context);
                (causal, dropout) = (a.UseCausalMask, a.Dropout);
                if (a.Seed is { } s2) generator = new Generator((ulong)s2, context.TorchDevice);
                break;
            default:
                throw new NotSupportedException($"{layer.Describe()}: not an attention layer.");
        }
        RegisterComponents();
    }

    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        generator is null ? [] : [("seed_generator", generator)];

    public override Tensor forward(Tensor x) =>
        throw new ArgumentException($"{Layer.Describe()} takes [query, value] or [query, value, key]; received one tensor.");

    public override Tensor Forward(IReadOnlyList<Tensor> inputs) => Call(inputs, [], ForwardContext.Inference);

    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Attend(inputs, masks, context, scores: false)[0];

    protected override IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Attend(inputs, masks, context, scores: true);

    public override IReadOnlyList<Tensor?> ComputeMasks(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        Layer.OutputCount == 1 ? [ComputeMask(inputs, masks)] : [ComputeMask(inputs, masks), null];

    // Keras's Attention.compute_mask: the query's mask.
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        masks.Count > 0 ? masks[0] : null;

    private Tensor[] Attend(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context, bool scores)
    {
        if (inputs.Count != InputShapes.Count)
            throw new ArgumentException($"{Layer.Describe()} was built for {InputShapes.Count} inputs; received {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        var query = inputs[0];
        var value = inputs[1];
        var key = inputs.Count > 2 ? inputs[2] : value;
        Tensor logits;
        if (additive || concat)
        {
            // (B, Tq, 1, dim) + (B, 1, Tv, dim)
            var sum = query.unsqueeze(-2) + key.unsqueeze(-3);
            if (additive) logits = (scale is null ? sum.tanh() : scale * sum.tanh()).sum(-1);
            else logits = concatScoreWeight! * (scale is null ? sum : scale * sum).tanh().sum(-1);
        }
        else
        {
            logits = query.matmul(key.transpose(1, 2));
            if (scale is not null) logits = logits * scale;
        }
        Tensor? scoresMask = masks.Count > 1 && masks[1] is { } vm ? AttentionOps.AsBool(vm).unsqueeze(-2) : null;
        if (causal) scoresMask = AttentionOps.And(scoresMask, AttentionOps.CausalMask(logits.shape[1], logits.shape[2], logits.device));
        if (scoresMask is not null)
        {
            // Keras's _apply_scores: scores −= max_value · padding_mask (65504 in float16, else 1e9).
            var max = logits.dtype == ScalarType.Float16 ? 65504.0 : 1e9;
            logits = logits - scoresMask.logical_not().to_type(logits.dtype) * max;
        }
        var weights = logits.softmax(-1);
        var dropped = dropout > 0 ? AttentionOps.Dropout(weights, dropout, context, generator) : weights;
        var result = dropped.matmul(value);
        if (masks.Count > 0 && masks[0] is { } qm) result = result * AttentionOps.AsBool(qm).unsqueeze(-1).to_type(result.dtype);
        result.MoveToOuterDisposeScope();
        if (!scores) return [result];
        weights.MoveToOuterDisposeScope();
        return [result, weights];
    }
}

internal sealed class AttentionBuilder : MultiInputLayerBuilder<Attention>
{
    public override BuiltLayer Build(Attention layer, IReadOnlyList<Shape> inputShapes, BuildContext context) => new BuiltAttention(layer, inputShapes, context);
}

internal sealed class AdditiveAttentionBuilder : MultiInputLayerBuilder<AdditiveAttention>
{
    public override BuiltLayer Build(AdditiveAttention layer, IReadOnlyList<Shape> inputShapes, BuildContext context) => new BuiltAttention(layer, inputShapes, context);
}
