using Functional.Shapes;
using Functional.Layers;
using Functional.Torch.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Keras's <c>model.predict</c> on raw strings, for models whose input is a string <see cref="Input"/>.</summary>
public static class TextPrediction
{
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

internal sealed class BuiltIntegerLookup(IntegerLookup layer, Shape input) : BuiltLayer(layer, input)
{
    protected override bool TakesIndices => true;

    public override Tensor forward(Tensor x) => IntegerLookupOps.Apply((IntegerLookup)Layer, x);
}

internal sealed class IntegerLookupBuilder : LayerBuilder<IntegerLookup>
{
    public override BuiltLayer Build(IntegerLookup layer, Shape inputShape, BuildContext context) => new BuiltIntegerLookup(layer, inputShape);
}
