using Functional.Shapes;
using Functional.Layers;
using Functional.Torch.Building;
using Functional.Torch.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Layers;

/// <summary>
/// Keras's text and lookup preprocessing on tensors: strings are not tensors, so <see cref="TextVectorization"/> and
/// <see cref="StringLookup"/> run on the host and their results become int64 (int mode) or float32 tensors here;
/// <see cref="IntegerLookup"/> maps integer tensors to tensors.
/// </summary>
public static class TextPreprocessingCalls
{
    /// <summary>A host result as a tensor (int64 indices or float32 encodings) on <paramref name="device"/> (the CPU by default).</summary>
    public static Tensor ToTensor(this HostOutput output, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var t = output.Ints is { } ints ? torch.tensor(ints.Data, ints.Shape, ScalarType.Int64)
            : torch.tensor(output.Floats!.Data, output.Floats.Shape, ScalarType.Float32);
        if (device is null || device.Type == DeviceType.CPU) return t;
        using (t) return t.to(device.ToTorch());
    }

    /// <summary>Keras's <c>vectorize_layer(["some text", …])</c>: (batch, length) int64 indices, or (batch, depth) float32.</summary>
    public static Tensor Call(this TextVectorization layer, IReadOnlyList<string> texts, Device? device = null) =>
        layer.Apply(texts).ToTensor(device);

    /// <summary>Keras's <c>lookup(["a", "b"])</c> on a rank-1 batch of strings.</summary>
    public static Tensor Call(this StringLookup layer, IReadOnlyList<string> tokens, Device? device = null) =>
        layer.Apply(tokens).ToTensor(device);

    /// <summary>Keras's <c>lookup([["a", "c"], ["d", "z"]])</c> on a rank-2 batch of strings.</summary>
    public static Tensor Call(this StringLookup layer, IReadOnlyList<IReadOnlyList<string>> rows, Device? device = null) =>
        layer.Apply(rows).ToTensor(device);

    /// <summary>Keras's <c>IntegerLookup</c> on an integer tensor: int64 indices (int mode, or the values back with
    /// <c>invert</c>), or float32 encodings, on the tensor's device.</summary>
    public static Tensor Call(this IntegerLookup layer, Tensor values)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return IntegerLookupOps.Apply(layer, values);
    }

    /// <summary>Keras's <c>adapt</c> on an integer tensor: rank 1, each value a document; rank 2, each row one.</summary>
    public static IntegerLookup Adapt(this IntegerLookup layer, Tensor data)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(data);
        var values = IntegerLookupOps.Values(layer, data);
        return data.dim() switch
        {
            0 or 1 => layer.Adapt(values),
            2 => layer.Adapt(values.Chunk((int)data.shape[1]).Select(r => (IReadOnlyList<long>)r)),
            _ => throw new ArgumentException($"{layer.Describe()}: adapt takes a rank-1 or rank-2 tensor; received shape ({string.Join(", ", data.shape)}).", nameof(data)),
        };
    }

    /// <summary>
    /// Keras's <c>model.predict(["some text", …])</c> for a model whose input is a string <see cref="Input"/>
    /// (<c>Dtype = "string"</c>) feeding <see cref="TextVectorization"/> or <see cref="StringLookup"/>: the strings are
    /// encoded on the host batch by batch and the rest of the model runs in inference mode; one CPU tensor (single output).
    /// </summary>
    /// <exception cref="ArgumentException">The model does not take one string input, or has several outputs.</exception>
    public static Tensor Predict(this BuiltNetwork network, IReadOnlyList<string> texts, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(texts);
        if (!network.TakesStrings || network.Declaration.InputShapes.Count != 1)
            throw new ArgumentException(
                $"Model '{network.Declaration.Name}' does not take one string input (an Input with Dtype = \"string\"); predict on tensors instead.", nameof(texts));
        if (network.Declaration.OutputShapes.Count != 1)
            throw new ArgumentException($"Model '{network.Declaration.Name}' has {network.Declaration.OutputShapes.Count} outputs; predict on strings returns one.", nameof(texts));
        if (batchSize <= 0) throw new ArgumentException($"Expected argument 'batchSize' to be a positive integer. Received: batchSize={batchSize}.", nameof(batchSize));
        var parts = new List<Tensor>();
        try
        {
            for (var start = 0; start < texts.Count || start == 0 && parts.Count == 0; start += batchSize)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var batch = texts.Skip(start).Take(batchSize).ToArray();
                var outs = network.ForwardTexts([batch], ForwardContext.Inference);
                parts.Add(outs[0].cpu().MoveToOuterDisposeScope());
                if (texts.Count == 0) break;
            }
            return parts.Count == 1 ? parts[0].alias() : cat(parts, 0);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }
}

/// <summary>
/// Splits texts and labels into batches for <c>fit</c>/<c>evaluate</c>, each vectorized on the host when it is served and
/// padded to its own longest sequence (variable-length batches: the model's masks do the rest), as Keras's
/// <c>dataset.map(vectorize_layer)</c> with padded batches.
/// </summary>
/// <remarks>Shuffled sources draw one permutation per epoch from their own seeded generator, so runs repeat.</remarks>
public sealed class TextBatches : IBatchSource
{
    private readonly TextVectorization vectorizer;
    private readonly string[] texts;
    private readonly float[] labels;
    private readonly int batchSize;
    private readonly bool shuffle;
    private readonly int seed;

    /// <summary>Serves <paramref name="texts"/> with one float label each (targets of shape (batch, 1)).</summary>
    /// <exception cref="ArgumentException">Different counts, an empty list, or a non-positive batch size.</exception>
    public TextBatches(TextVectorization vectorizer, IReadOnlyList<string> texts, IReadOnlyList<float> labels, int batchSize = 32,
        bool shuffle = false, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(vectorizer);
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(labels);
        if (texts.Count != labels.Count)
            throw new ArgumentException($"TextBatches: {texts.Count} texts but {labels.Count} labels; give one label per text.", nameof(labels));
        if (texts.Count == 0) throw new ArgumentException("TextBatches: expected at least one text.", nameof(texts));
        if (batchSize <= 0) throw new ArgumentException($"Expected argument 'batchSize' to be a positive integer. Received: batchSize={batchSize}.", nameof(batchSize));
        if (vectorizer.OutputMode != "int" || vectorizer.OutputSequenceLength is not null)
            throw new ArgumentException(
                $"TextBatches pads each batch to its longest sequence: it needs a TextVectorization in int mode without output_sequence_length. Received: output_mode='{vectorizer.OutputMode}', output_sequence_length={Layer.FormatValue(vectorizer.OutputSequenceLength)}.",
                nameof(vectorizer));
        this.vectorizer = vectorizer;
        this.texts = [.. texts];
        this.labels = [.. labels];
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    /// <inheritdoc />
    public int StepsPerEpoch => (texts.Length + batchSize - 1) / batchSize;

    /// <summary>The number of texts.</summary>
    public int Count => texts.Length;

    /// <inheritdoc />
    public IEnumerable<Batch> Batches(int epoch)
    {
        var order = Enumerable.Range(0, texts.Length).ToArray();
        if (shuffle) new Random(HashCode.Combine(seed, epoch)).Shuffle(order);
        return Serve(order);
    }

    private IEnumerable<Batch> Serve(int[] order)
    {
        for (var start = 0; start < order.Length; start += batchSize)
        {
            var idx = order.Skip(start).Take(batchSize).ToArray();
            var x = vectorizer.Call(idx.Select(i => texts[i]).ToArray());
            var y = torch.tensor(idx.Select(i => labels[i]).ToArray(), [idx.Length, 1L], ScalarType.Float32);
            yield return new Batch([x], [y]);
        }
    }
}

/// <summary>A built string layer: it encodes strings on the host when its model is called with strings.</summary>
internal interface IHostStringStage
{
    /// <summary>The layer's tensor for a batch of strings, on <paramref name="device"/>.</summary>
    Tensor Encode(IReadOnlyList<string> texts, Device device);
}

/// <summary>Checks and messages for string stages inside a built network.</summary>
internal static class HostStringStages
{
    /// <summary>
    /// Every layer fed by a string input must be a string stage, and every string stage must be fed by a string input
    /// (strings are never tensors between layers).
    /// </summary>
    public static void CheckPlan(string model, IReadOnlyList<(nn.Module? Module, int[] Inputs)> steps, IReadOnlyList<int> stringSlots)
    {
        foreach (var (module, inputs) in steps)
        {
            var fedStrings = inputs.Any(stringSlots.Contains);
            var name = module is BuiltLayer l ? l.Layer.Describe() : $"nested model '{module?.GetName()}'";
            if (module is IHostStringStage && !(inputs.Length == 1 && fedStrings))
                throw new NotSupportedException(
                    $"Model '{model}': {name} takes strings, so it must be applied directly to a string Input (Input with Dtype = \"string\"); " +
                    "strings are not tensors, and only a model input carries them.");
            if (module is not IHostStringStage && fedStrings)
                throw new NotSupportedException(
                    $"Model '{model}': {name} is applied to a string Input, but only TextVectorization and StringLookup take strings; " +
                    "put one of them between the input and this layer.");
        }
    }

    public static ArgumentException NeedsStrings(string model, string input) => new(
        $"Model '{model}' takes strings at {input} (an Input with Dtype = \"string\"): call Predict(texts) with the raw strings, " +
        "or vectorize them with the model's TextVectorization and run a model whose input takes the indices.", "inputs");
}

/// <summary>TextVectorization or StringLookup built into a model: a host stage, never run on a tensor.</summary>
internal sealed class BuiltStringStage : BuiltLayer, IHostStringStage
{
    private readonly Func<IReadOnlyList<string>, HostOutput> encode;

    public BuiltStringStage(Layer layer, Shape input, Func<IReadOnlyList<string>, HostOutput> encode) : base(layer, input) => this.encode = encode;

    protected override bool TakesIndices => true;

    public Tensor Encode(IReadOnlyList<string> texts, Device device) => encode(texts).ToTensor(device);

    public override Tensor forward(Tensor x) => throw new InvalidOperationException(
        $"{Layer.Describe()} takes strings, not tensors: call it with strings (layer.Call(texts)), or call its model with Predict(texts).");
}

internal sealed class TextVectorizationBuilder : LayerBuilder<TextVectorization>
{
    public override BuiltLayer Build(TextVectorization layer, Shape inputShape, BuildContext context) =>
        new BuiltStringStage(layer, inputShape, layer.Apply);
}

internal sealed class StringLookupBuilder : LayerBuilder<StringLookup>
{
    public override BuiltLayer Build(StringLookup layer, Shape inputShape, BuildContext context)
    {
        if (layer.Invert)
            throw new NotSupportedException($"{layer.Describe()} with invert=True returns strings, which are not tensors: call Inverse on the host instead.");
        // A string input of shape () gives a rank-1 batch; (n,) gives rows.
        return new BuiltStringStage(layer, inputShape, inputShape.Rank == 0
            ? layer.Apply
            : texts => throw new NotSupportedException(
                $"{layer.Describe()} in a model takes one string per sample (an Input of shape ()); its input has shape {inputShape}. Call the layer on rows of strings directly instead."));
    }
}

/// <summary>IntegerLookup on integer tensors (computed on the host, returned on the input's device).</summary>
internal static class IntegerLookupOps
{
    public static long[] Values(IntegerLookup layer, Tensor x)
    {
        if (DTypes.IsFloating(x.dtype) && x.numel() > 0)
        {
            using var frac = (x - x.floor()).abs().max();
            if (frac.item<double>() != 0 || x.isnan().any().item<bool>())
                throw new ArgumentException($"{layer.Describe()} takes integer values; received a {x.dtype} tensor with non-integer values.", nameof(x));
        }
        using var cpu = x.to_type(ScalarType.Int64).cpu().contiguous();
        return cpu.data<long>().ToArray();
    }

    public static Tensor Apply(IntegerLookup layer, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var shape = x.shape;
        var values = Values(layer, x);
        if (layer.Invert)
        {
            var back = layer.Inverse(new HostArray<long>(values, shape));
            return torch.tensor(back.Data, back.Shape, ScalarType.Int64).to(x.device);
        }
        var output = layer.Apply(values, shape);
        using var cpu = output.ToTensor();
        return cpu.to(x.device);
    }
}

internal sealed class BuiltIntegerLookup(IntegerLookup layer, Shape input) : BuiltLayer(layer, input)
{
    protected override bool TakesIndices => true;

    public override Tensor forward(Tensor x) => IntegerLookupOps.Apply((IntegerLookup)Layer, x);
}

internal sealed class IntegerLookupBuilder : LayerBuilder<IntegerLookup>
{
    public override BuiltLayer Build(IntegerLookup layer, Shape inputShape, BuildContext context) => new BuiltIntegerLookup(layer, inputShape);
}
