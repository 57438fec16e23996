using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Native;
using Functional.Torch.Formats;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>Keras's <c>Embedding</c> built: a lookup in <c>embeddings</c> (Keras's layout, (input_dim, output_dim)).</summary>
internal sealed class BuiltEmbedding : BuiltLayer
{
    private readonly Parameter embeddings;
    private readonly LoraAdapter? lora;
    private readonly Embedding embedding;

    public BuiltEmbedding(Embedding layer, Shape input, BuildContext context) : base(layer, input)
    {
        embedding = layer;
        embeddings = DeclareWeight("embeddings", context);
        if (layer.LoraRank is { } rank)
            lora = new LoraAdapter(DeclareWeight("lora_embeddings_a", context), DeclareWeight("lora_embeddings_b", context), rank, layer.LoraAlpha);
        RegisterComponents();
    }

    // Indices are taken as they are (Keras's Embedding has autocast off); floating ones are truncated here, as Keras casts.
    protected override bool TakesIndices => true;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var indices = x.dtype == ScalarType.Int64 ? x : x.to_type(ScalarType.Int64);
        if (indices.numel() > 0)
        {
            var low = indices.min().item<long>();
            var high = indices.max().item<long>();
            if (low < 0 || high >= embedding.InputDim)
                throw new ArgumentException(
                    $"{Layer.Describe()}: index {(low < 0 ? low : high)} is out of range: indices must lie in [0, {embedding.InputDim}) " +
                    $"(inputDim={embedding.InputDim}). Received indices from {low} to {high}.", "inputs");
        }
        var table = lora is null ? embeddings : embeddings + lora.Delta();
        var rows = table.index_select(0, indices.reshape(-1));
        return rows.reshape([.. indices.shape, embedding.OutputDim]).MoveToOuterDisposeScope();
    }

    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        embedding.MaskZero ? inputs[0].ne(0) : null;
}

internal sealed class EmbeddingBuilder : LayerBuilder<Embedding>
{
    public override BuiltLayer Build(Embedding layer, Shape input, BuildContext context) => new BuiltEmbedding(layer, input, context);
}

/// <summary>
/// A built <see cref="SimpleRNN"/>, <see cref="LSTM"/> or <see cref="GRU"/>. Weights are stored as PyTorch lays them out —
/// <c>kernel</c> (k·units, features) and <c>recurrent_kernel</c> (k·units, units), their Keras views transposed, gate
/// blocks in Keras's order — and <c>bias</c> as Keras's. When Keras's fast-path conditions hold (default activations, no
/// recurrent dropout, not unrolled, <c>reset_after</c> for GRU, no mask) it runs libtorch's fused kernel on these weights
/// (GRU's gate blocks reordered to PyTorch's r, z, n); otherwise a per-step loop of Keras's cell equations.
/// </summary>
public sealed class BuiltRecurrent : BuiltLayer
{
    private enum Kind { Simple, Lstm, Gru }

    private readonly RecurrentLayer rnn;
    private readonly Kind kind;
    private readonly int units;
    private readonly ActivationFunction activation, recurrentActivation;
    private readonly Parameter kernel, recurrent_kernel;
    private readonly Parameter? bias;
    private readonly Generator? generator;
    private Tensor[]? states;   // a stateful layer's states between calls (detached), null until the first call

    internal BuiltRecurrent(RecurrentLayer layer, IReadOnlyList<Shape> inputs, BuildContext context) : base(layer, inputs)
    {
        rnn = layer;
        (kind, recurrentActivation) = layer switch
        {
            LSTM l => (Kind.Lstm, l.RecurrentActivation),
            GRU g => (Kind.Gru, g.RecurrentActivation),
            _ => (Kind.Simple, ActivationFunction.Linear),
        };
        units = layer.Units;
        activation = layer.Activation;
        kernel = DeclareWeight("kernel", context, [1, 0]);
        recurrent_kernel = DeclareWeight("recurrent_kernel", context, [1, 0]);
        if (layer.UseBias) bias = DeclareWeight("bias", context);
        if (layer.Seed is { } s) generator = new Generator((ulong)s, context.TorchDevice);
        RegisterComponents();
    }

    /// <summary>Keras's <c>reset_states()</c>: a stateful layer's next call starts again from zero states.</summary>
    public void ResetStates()
    {
        if (states is null) return;
        foreach (var s in states) s.Dispose();
        states = null;
    }

    /// <summary>A stateful layer's current states (h, and c for an LSTM), each (batch, units); null before the first call
    /// and after <see cref="ResetStates"/>.</summary>
    public IReadOnlyList<Tensor>? States => states;

    /// <inheritdoc />
    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        generator is null ? [] : [("seed_generator", generator)];

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Run([x], null, ForwardContext.Inference)[0];

    /// <inheritdoc />
    public override Tensor Forward(IReadOnlyList<Tensor> inputs) => Run(inputs, null, ForwardContext.Inference)[0];

    /// <inheritdoc />
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Run(inputs, masks.Count > 0 ? masks[0] : null, context)[0];

    /// <inheritdoc />
    protected override IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Run(inputs, masks.Count > 0 ? masks[0] : null, context);

    /// <summary>Keras's RNN <c>compute_mask</c>: the input's mask for a returned sequence, else none.</summary>
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        rnn.ReturnSequences && masks.Count > 0 ? masks[0] : null;

    /// <summary>With <c>return_state</c>: the output's mask, then none for each state.</summary>
    public override IReadOnlyList<Tensor?> ComputeMasks(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        [ComputeMask(inputs, masks), .. new Tensor?[rnn.OutputCount - 1]];

    /// <summary>Whether a call with these settings runs libtorch's fused kernel (Keras's fast-path conditions).</summary>
    internal bool UsesFusedKernel(bool masked, ScalarType dtype) =>
        FusedRnn.Enabled && FusedRnn.Available && !masked && rnn.RecurrentDropout == 0 && !rnn.Unroll
        && activation.Name == "tanh" && (kind == Kind.Simple || recurrentActivation.Name == "sigmoid")
        && (rnn is not GRU g || g.ResetAfter) && dtype is ScalarType.Float32 or ScalarType.Float64;

    private Tensor DropMask(long[] shape, double rate, Tensor like, ForwardContext context)
    {
        Tensor keep;
        if (generator is not null || context.Generator is null)
            keep = torch.empty(shape, like.dtype, like.device).bernoulli_(1 - rate, generator);
        else
        {
            keep = torch.empty(shape, like.dtype, CPU).bernoulli_(1 - rate, context.Generator);
            if (like.device_type != DeviceType.CPU) keep = keep.to(like.device);
        }
        return keep.div_(1 - rate);
    }

    private Tensor Act(ActivationFunction f, Tensor x) => f.IsLinear ? x : ActivationOps.Apply(f, x);

    private IReadOnlyList<Tensor> Run(IReadOnlyList<Tensor> inputs, Tensor? mask, ForwardContext context)
    {
        var stateCount = rnn.StateCount;
        if (inputs.Count != 1 && inputs.Count != 1 + stateCount)
            throw new ArgumentException($"{Layer.Describe()} takes the sequence and optionally {stateCount} initial state(s); received {inputs.Count} inputs.", nameof(inputs));
        var sequence = inputs[0];
        if (sequence.dim() != 3)
            throw new ArgumentException($"{Layer.Describe()}: expected a sequence of shape (batch, timesteps, features); received rank {sequence.dim()}.", nameof(inputs));
        long batch = sequence.shape[0], steps = sequence.shape[1];
        if (steps == 0)
            throw new ArgumentException($"{Layer.Describe()}: the sequence has no timesteps (shape ({string.Join(", ", sequence.shape)})).", nameof(inputs));
        if (mask is not null && (mask.dim() != 2 || mask.shape[0] != batch || mask.shape[1] != steps))
            throw new ArgumentException($"{Layer.Describe()}: the mask must be (batch, timesteps) = ({batch}, {steps}); received ({string.Join(", ", mask.shape)}).", nameof(mask));

        using var scope = NewDisposeScope();
        var dtype = sequence.dtype;
        Tensor InDtype(Tensor w) => w.dtype == dtype ? w : w.to_type(dtype);
        var w = InDtype(kernel);
        var u = InDtype(recurrent_kernel);
        var b = bias is null ? null : InDtype(bias);

        // Initial states: given as inputs (Keras's initial_state), a stateful layer's last ones, or zeros.
        Tensor[] initial;
        if (inputs.Count > 1)
        {
            initial = [.. inputs.Skip(1).Select(s => InDtype(s))];
            foreach (var s in initial)
                if (s.dim() != 2 || s.shape[0] != batch || s.shape[1] != units)
                    throw new ArgumentException($"{Layer.Describe()}: an initial state must be (batch, units) = ({batch}, {units}); received ({string.Join(", ", s.shape)}).", nameof(inputs));
        }
        else if (rnn.Stateful && states is not null)
        {
            if (states[0].shape[0] != batch)
                throw new ArgumentException(
                    $"{Layer.Describe()} is stateful and holds states for batches of {states[0].shape[0]}; received a batch of {batch}. " +
                    "A stateful layer needs the same batch size in every call (or call ResetStates() first).", nameof(inputs));
            initial = [.. states.Select(s => InDtype(s))];
        }
        else initial = [.. Enumerable.Range(0, stateCount).Select(_ => torch.zeros(batch, units, dtype, sequence.device))];

        var x = sequence;
        var rate = rnn.Dropout;
        if (context.Training && rate > 0 && rate < 1) x = x * DropMask([batch, 1, sequence.shape[2]], rate, x, context);
        var recurrentRate = rnn.RecurrentDropout;
        var recurrentMask = context.Training && recurrentRate > 0 && recurrentRate < 1 ? DropMask([batch, units], recurrentRate, x, context) : null;
        var stepMask = mask is null ? null : mask.dtype == ScalarType.Bool ? mask : mask.ne(0);
        if (rnn.GoBackwards)
        {
            x = x.flip(1);
            stepMask = stepMask?.flip(1);
        }

        // An empty batch takes the loop: libtorch's kernels are only ever given non-empty tensors (a C++ exception cannot
        // cross into .NET).
        var (output, finals) = batch > 0 && x.shape[2] > 0 && UsesFusedKernel(stepMask is not null || recurrentMask is not null, dtype)
            ? Fused(x, initial, w, u, b)
            : Loop(x, initial, w, u, b, stepMask, recurrentMask);

        if (rnn.Stateful)
        {
            var old = states;
            states = [.. finals.Select(s => s.detach().clone().DetachFromDisposeScope())];
            if (old is not null) foreach (var s in old) s.Dispose();
        }
        IReadOnlyList<Tensor> results = rnn.ReturnState ? [output, .. finals] : [output];
        foreach (var r in results) r.MoveToOuterDisposeScope();
        return results;
    }

    // GRU gate blocks along the first axis: Keras's z, r, h → PyTorch's r, z, n.
    private Tensor KerasToTorchGates(Tensor t) => torch.cat([t.narrow(0, units, units), t.narrow(0, 0, units), t.narrow(0, 2 * units, units)], 0);

    private (Tensor Output, Tensor[] Finals) Fused(Tensor x, Tensor[] initial, Tensor w, Tensor u, Tensor? b)
    {
        var h0 = initial[0].unsqueeze(0).contiguous();
        Tensor sequence;
        Tensor[] finals;
        switch (kind)
        {
            case Kind.Lstm:
            {
                IReadOnlyList<Tensor> weights = b is null ? [w, u] : [w, u, b, torch.zeros_like(b)];
                var (y, h, c) = FusedRnn.Lstm(x.contiguous(), h0, initial[1].unsqueeze(0).contiguous(), weights);
                sequence = y;
                finals = [h.squeeze(0), c.squeeze(0)];
                break;
            }
            case Kind.Gru:
            {
                IReadOnlyList<Tensor> weights = b is null
                    ? [KerasToTorchGates(w), KerasToTorchGates(u)]
                    : [KerasToTorchGates(w), KerasToTorchGates(u), KerasToTorchGates(b[0]), KerasToTorchGates(b[1])];
                var (y, h) = FusedRnn.Gru(x.contiguous(), h0, weights);
                sequence = y;
                finals = [h.squeeze(0)];
                break;
            }
            default:
            {
                IReadOnlyList<Tensor> weights = b is null ? [w, u] : [w, u, b, torch.zeros_like(b)];
                var (y, h) = FusedRnn.RnnTanh(x.contiguous(), h0, weights);
                sequence = y;
                finals = [h.squeeze(0)];
                break;
            }
        }
        var output = rnn.ReturnSequences ? sequence : sequence.select(1, sequence.shape[1] - 1);
        return (output, finals);
    }

    private (Tensor Output, Tensor[] Finals) Loop(Tensor x, Tensor[] initial, Tensor w, Tensor u, Tensor? b, Tensor? stepMask, Tensor? recurrentMask)
    {
        var resetAfter = rnn is GRU { ResetAfter: true };
        // The input projections of every step at once (the dropout mask is the same for every step, as Keras's).
        var inputBias = b is null ? null : resetAfter ? b[0] : b;
        var recurrentBias = b is not null && resetAfter ? b[1] : null;
        var projected = F.linear(x, w, inputBias);
        var steps = x.shape[1];
        var h = initial[0];
        var c = kind == Kind.Lstm ? initial[1] : null;
        var previous = torch.zeros_like(h);   // Keras's masked steps repeat the previous output, zeros before the first
        var outputs = rnn.ReturnSequences ? new List<Tensor>((int)steps) : null;
        var uz = kind == Kind.Gru && !resetAfter ? u.narrow(0, 0, 2 * units) : null;
        var uh = kind == Kind.Gru && !resetAfter ? u.narrow(0, 2 * units, units) : null;
        for (var t = 0L; t < steps; t++)
        {
            var xt = projected.select(1, t);
            var hr = recurrentMask is null ? h : h * recurrentMask;
            Tensor hNew;
            Tensor? cNew = null;
            switch (kind)
            {
                case Kind.Lstm:
                {
                    var z = xt + F.linear(hr, u);
                    var gates = z.chunk(4, 1);
                    var i = Act(recurrentActivation, gates[0]);
                    var f = Act(recurrentActivation, gates[1]);
                    var o = Act(recurrentActivation, gates[3]);
                    cNew = f * c! + i * Act(activation, gates[2]);
                    hNew = o * Act(activation, cNew);
                    break;
                }
                case Kind.Gru when resetAfter:
                {
                    var xg = xt.chunk(3, 1);
                    var rg = F.linear(hr, u, recurrentBias).chunk(3, 1);
                    var z = Act(recurrentActivation, xg[0] + rg[0]);
                    var r = Act(recurrentActivation, xg[1] + rg[1]);
                    var candidate = Act(activation, xg[2] + r * rg[2]);
                    hNew = z * h + (1 - z) * candidate;
                    break;
                }
                case Kind.Gru:
                {
                    var xg = xt.chunk(3, 1);
                    var rg = F.linear(hr, uz!).chunk(2, 1);
                    var z = Act(recurrentActivation, xg[0] + rg[0]);
                    var r = Act(recurrentActivation, xg[1] + rg[1]);
                    var candidate = Act(activation, xg[2] + F.linear(r * hr, uh!));
                    hNew = z * h + (1 - z) * candidate;
                    break;
                }
                default:
                    hNew = Act(activation, xt + F.linear(hr, u));
                    break;
            }
            var output = hNew;
            if (stepMask is not null)
            {
                var m = stepMask.select(1, t).unsqueeze(1);
                hNew = torch.where(m, hNew, h);
                if (cNew is not null) cNew = torch.where(m, cNew, c!);
                output = torch.where(m, output, rnn.ZeroOutputForMask ? torch.zeros_like(output) : previous);
            }
            h = hNew;
            c = cNew;
            previous = output;
            outputs?.Add(output);
        }
        return (outputs is null ? previous : torch.stack(outputs, 1), c is null ? [h] : [h, c]);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) ResetStates();
        base.Dispose(disposing);
    }
}

internal sealed class RecurrentBuilder : MultiInputLayerBuilder<RecurrentLayer>
{
    public override BuiltLayer Build(RecurrentLayer layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        new BuiltRecurrent(layer, inputShapes, context);
}

/// <summary>Keras's <c>reset_states</c> over a built model.</summary>
public static class RecurrentStates
{
    /// <summary>Resets the states of every stateful recurrent layer of the model (Keras's <c>layer.reset_states()</c> on each).</summary>
    public static void ResetStates(this BuiltNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        foreach (var layer in network.BuiltLayers)
            if (layer is BuiltRecurrent r) r.ResetStates();
            else if (layer is BuiltBidirectional b) b.ResetStates();
            else if (layer is BuiltRnn n) n.ResetStates();
    }
}

/// <summary>A built <see cref="Bidirectional"/>: the forward and backward recurrent layers, each built as its own module,
/// their weights named <c>forward_lstm/kernel</c>, ….</summary>
public sealed class BuiltBidirectional : BuiltLayer
{
    private readonly Bidirectional record;
    private readonly BuiltRecurrent forward_layer, backward_layer;

    internal BuiltBidirectional(Bidirectional layer, Shape input, BuildContext context) : base(layer, input)
    {
        record = layer;
        forward_layer = (BuiltRecurrent)LayerBuilders.Build(layer.ForwardRun, [input], context);
        backward_layer = (BuiltRecurrent)LayerBuilders.Build(layer.BackwardRun, [input], context);
        RegisterComponents();
    }

    /// <summary>Keras's <c>reset_states()</c> on both layers.</summary>
    public void ResetStates()
    {
        forward_layer.ResetStates();
        backward_layer.ResetStates();
    }

    /// <inheritdoc />
    public override IEnumerable<WeightBinding> Weights() =>
        [.. forward_layer.Weights().Select(w => w with { Name = $"{forward_layer.Layer.Name}/{w.Name}" }),
         .. backward_layer.Weights().Select(w => w with { Name = $"{backward_layer.Layer.Name}/{w.Name}" })];

    /// <inheritdoc />
    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        [.. forward_layer.Generators().Select(g => ($"{forward_layer.Layer.Name}/{g.Name}", g.Generator)),
         .. backward_layer.Generators().Select(g => ($"{backward_layer.Layer.Name}/{g.Name}", g.Generator))];

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Run([x], null, ForwardContext.Inference)[0];

    /// <inheritdoc />
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Run(inputs, masks.Count > 0 ? masks[0] : null, context)[0];

    /// <inheritdoc />
    protected override IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Run(inputs, masks.Count > 0 ? masks[0] : null, context);

    /// <summary>The merged output's mask is the input's for returned sequences (each half's, without merging); states have none.</summary>
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        record.Layer.ReturnSequences && masks.Count > 0 ? masks[0] : null;

    /// <inheritdoc />
    public override IReadOnlyList<Tensor?> ComputeMasks(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks)
    {
        var mask = ComputeMask(inputs, masks);
        var result = new Tensor?[record.OutputCount];
        result[0] = mask;
        if (record.MergeMode is null) result[1] = mask;
        return result;
    }

    private IReadOnlyList<Tensor> Run(IReadOnlyList<Tensor> inputs, Tensor? mask, ForwardContext context)
    {
        if (inputs.Count != 1)
            throw new ArgumentException($"{Layer.Describe()} takes one input (the sequence); received {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        Tensor?[] masks = [mask];
        var f = forward_layer.ForwardAll(inputs, masks, context);
        var b = backward_layer.ForwardAll(inputs, masks, context);
        var yf = f[0];
        // Keras reverses the backward layer's sequence back, so both halves are aligned on the input's steps.
        var yb = record.Layer.ReturnSequences ? b[0].flip(1) : b[0];
        var outputs = new List<Tensor>();
        switch (record.MergeMode)
        {
            case null: outputs.Add(yf); outputs.Add(yb); break;
            case "concat": outputs.Add(torch.cat([yf, yb], -1)); break;
            case "sum": outputs.Add(yf + yb); break;
            case "mul": outputs.Add(yf * yb); break;
            default: outputs.Add((yf + yb) * 0.5); break;   // "ave"
        }
        if (record.Layer.ReturnState)
        {
            outputs.AddRange(f.Skip(1));
            outputs.AddRange(b.Skip(1));
        }
        foreach (var o in outputs) o.MoveToOuterDisposeScope();
        return outputs;
    }
}

internal sealed class BidirectionalBuilder : LayerBuilder<Bidirectional>
{
    public override BuiltLayer Build(Bidirectional layer, Shape input, BuildContext context) => new BuiltBidirectional(layer, input, context);
}

/// <summary>A built <see cref="TimeDistributed"/>: the wrapped layer built for one step, run on (batch · steps, …).</summary>
internal sealed class BuiltTimeDistributed : BuiltLayer
{
    private readonly BuiltLayer step_layer;

    public BuiltTimeDistributed(TimeDistributed layer, Shape input, BuildContext context) : base(layer, input)
    {
        step_layer = LayerBuilders.Build(layer.StepLayer, [new Shape(input.Skip(1))], context);
        RegisterComponents();
    }

    public override IEnumerable<WeightBinding> Weights() => step_layer.Weights();

    public override IEnumerable<(string Name, Generator Generator)> Generators() => step_layer.Generators();

    public override IEnumerable<(string Name, Tensor Buffer)> KerasBuffers() => step_layer.KerasBuffers();

    public override Tensor forward(Tensor x) => Call([x], [], ForwardContext.Inference);

    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context)
    {
        if (inputs.Count != 1)
            throw new ArgumentException($"{Layer.Describe()} takes one input; received {inputs.Count}.", nameof(inputs));
        var x = inputs[0];
        long batch = x.shape[0], steps = x.shape[1];
        using var scope = NewDisposeScope();
        var flat = x.reshape([batch * steps, .. x.shape.Skip(2)]);
        // The step layer may compute channels-first (a channels_last convolution): move the channels as the model would.
        var channelsFirst = step_layer.Layout == PhysicalLayout.ChannelsFirst && flat.dim() > 2;
        if (channelsFirst) flat = flat.movedim([-1L], [1L]);
        var y = step_layer.Forward([flat], context);
        if (channelsFirst && y.dim() > 2) y = y.movedim([1L], [-1L]);
        return y.reshape([batch, steps, .. y.shape.Skip(1)]).MoveToOuterDisposeScope();
    }
}

internal sealed class TimeDistributedBuilder : LayerBuilder<TimeDistributed>
{
    public override BuiltLayer Build(TimeDistributed layer, Shape input, BuildContext context) => new BuiltTimeDistributed(layer, input, context);
}

/// <summary>A built <see cref="RNN"/>: one <see cref="BuiltRecurrent"/> per cell, each feeding its sequence to the next.</summary>
public sealed class BuiltRnn : BuiltLayer
{
    private readonly RNN record;
    private readonly TorchSharp.Modules.ModuleList<BuiltRecurrent> cells = new();

    internal BuiltRnn(RNN layer, Shape input, BuildContext context) : base(layer, input)
    {
        record = layer;
        var shape = input;
        foreach (var loop in layer.Loops())
        {
            var built = (BuiltRecurrent)LayerBuilders.Build(loop, [shape], context);
            cells.Add(built);
            shape = loop.ComputeOutputShapes([shape])[0];
        }
        RegisterComponents();
    }

    /// <summary>Keras's <c>reset_states()</c> on every cell's states.</summary>
    public void ResetStates()
    {
        foreach (var c in cells) c.ResetStates();
    }

    private string Prefix(BuiltRecurrent c) => c.Layer.Name is { } n ? n + "/" : "";

    /// <inheritdoc />
    public override IEnumerable<WeightBinding> Weights() =>
        [.. cells.SelectMany(c => c.Weights().Select(w => w with { Name = Prefix(c) + w.Name }))];

    /// <inheritdoc />
    public override IEnumerable<(string Name, Generator Generator)> Generators() =>
        [.. cells.SelectMany(c => c.Generators().Select(g => (Prefix(c) + g.Name, g.Generator)))];

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Run([x], null, ForwardContext.Inference)[0];

    /// <inheritdoc />
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Run(inputs, masks.Count > 0 ? masks[0] : null, context)[0];

    /// <inheritdoc />
    protected override IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Run(inputs, masks.Count > 0 ? masks[0] : null, context);

    /// <summary>Keras's RNN <c>compute_mask</c>: the input's mask for a returned sequence, else none; none for states.</summary>
    public override Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        record.ReturnSequences && masks.Count > 0 ? masks[0] : null;

    /// <inheritdoc />
    public override IReadOnlyList<Tensor?> ComputeMasks(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        [ComputeMask(inputs, masks), .. new Tensor?[record.OutputCount - 1]];

    private IReadOnlyList<Tensor> Run(IReadOnlyList<Tensor> inputs, Tensor? mask, ForwardContext context)
    {
        if (inputs.Count != 1)
            throw new ArgumentException($"{Layer.Describe()} takes one input (the sequence); received {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        var x = inputs[0];
        var states = new List<Tensor>();
        for (var i = 0; i < cells.Count; i++)
        {
            var outs = cells[i].ForwardAll([x], [mask], context);
            states.AddRange(outs.Skip(1));
            x = outs[0];
            // After a backwards first cell the sequence is in processing order: so must its mask be for the next cells.
            if (i == 0 && record.GoBackwards) mask = mask?.flip(1);
        }
        IReadOnlyList<Tensor> results = [x, .. states];
        foreach (var r in results) r.MoveToOuterDisposeScope();
        return results;
    }
}

internal sealed class RnnBuilder : LayerBuilder<RNN>
{
    public override BuiltLayer Build(RNN layer, Shape input, BuildContext context) => new BuiltRnn(layer, input, context);
}
