using Functional.Layers;
namespace Functional.Models;

/// <summary>
/// Keras's <c>layer(x)</c>: applying a layer to symbolic tensors records a node of a graph. It lives with the graph
/// (models sit above layers), so a layer record knows nothing of graphs; <c>using Functional.Models</c> brings it.
/// </summary>
public static class LayerCalls
{
    /// <summary>
    /// Applies the layer to a symbolic tensor (Keras's <c>layer(x)</c>), inferring the output shape now: a layer that
    /// cannot take the shape is rejected here with a <see cref="ShapeException"/>.
    /// </summary>
    /// <remarks>
    /// <para><b>Identity.</b> Records compare by value, but a layer's identity in a graph is its <em>instance</em>: calling
    /// the same instance twice (<c>var d = new Dense(64); d.Call(a); d.Call(b);</c>) makes one shared layer with one set
    /// of weights, exactly as in Keras. Two separately created layers — even equal ones, or a copy made with <c>with</c> —
    /// are two layers with their own weights. Within a model every layer has a unique name; unnamed layers get Keras's
    /// default names (<c>dense</c>, <c>dense_1</c>, …) in the order they are first applied.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">The layer returns several tensors: use <see cref="CallMany(Layer, SymbolicTensor[])"/>.</exception>
    public static SymbolicTensor Call(this Layer layer, SymbolicTensor input) => Single(layer, Graph.Apply(layer, [input]));

    /// <summary>Applies a layer that takes several inputs (merge layers such as <c>Add</c> or <c>Concatenate</c>).</summary>
    /// <remarks>The same identity rule as <see cref="Call(Layer, SymbolicTensor)"/>: the instance is the layer.</remarks>
    public static SymbolicTensor Call(this Layer layer, params SymbolicTensor[] inputs) => Single(layer, Graph.Apply(layer, inputs));

    /// <summary>
    /// Applies a layer and returns every tensor it returns, in order (Keras's <c>outputs, state = layer(x)</c> for a layer
    /// whose call returns a list); one tensor for most layers.
    /// </summary>
    public static IReadOnlyList<SymbolicTensor> CallMany(this Layer layer, params SymbolicTensor[] inputs) => Graph.Apply(layer, inputs).Outputs;

    private static SymbolicTensor Single(Layer layer, Node node) => node.Outputs.Length == 1 ? node.Outputs[0] : throw new InvalidOperationException(
        $"{layer.Describe()} returns {node.Outputs.Length} tensors; use CallMany to get them all.");

    /// <summary>
    /// Applies a MultiHeadAttention layer with Keras's <c>attention_mask</c> (<c>mha(query, value, key=key, attention_mask=mask)</c>):
    /// the inputs are <c>[query, value, key ?? value, attentionMask]</c>. Use <c>Call(query, value)</c> or
    /// <c>Call(query, value, key)</c> without a mask.
    /// </summary>
    public static SymbolicTensor Call(this MultiHeadAttention layer, SymbolicTensor query, SymbolicTensor value, SymbolicTensor? key, SymbolicTensor attentionMask) =>
        layer.Call([query, value, key ?? value, attentionMask]);

    /// <summary>
    /// Keras's <c>mha(query, value, key=None, attention_mask=None, return_attention_scores=False, use_causal_mask=False)</c>:
    /// applies the layer with Keras's call arguments and returns every output (the attention output, then the scores when
    /// <paramref name="returnAttentionScores"/>).
    /// </summary>
    /// <remarks>
    /// The call arguments are the record's <see cref="MultiHeadAttention.UseCausalMask"/> and
    /// <see cref="MultiHeadAttention.ReturnAttentionScores"/> (a graph declaration is data, so they are written to its config).
    /// Arguments equal to the record's apply the layer itself; other ones apply one copy of it per combination, made on
    /// the first such call and reused by every later one, so repeated calls with the same arguments share one layer and its
    /// weights. Unlike Keras, calls with different arguments are different layers with their own weights.
    /// </remarks>
    public static IReadOnlyList<SymbolicTensor> CallWith(this MultiHeadAttention layer, SymbolicTensor query, SymbolicTensor value,
        SymbolicTensor? key = null, SymbolicTensor? attentionMask = null, bool returnAttentionScores = false, bool useCausalMask = false)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var applied = layer.UseCausalMask == useCausalMask && layer.ReturnAttentionScores == returnAttentionScores ? layer
            : Variants.GetOrCreateValue(layer).GetOrAdd((useCausalMask, returnAttentionScores),
                o => layer with { UseCausalMask = o.Causal, ReturnAttentionScores = o.Scores });
        return attentionMask is null
            ? applied.CallMany(key is null ? [query, value] : [query, value, key])
            : applied.CallMany(query, value, key, attentionMask);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<MultiHeadAttention,
        System.Collections.Concurrent.ConcurrentDictionary<(bool Causal, bool Scores), MultiHeadAttention>> Variants = new();

    /// <summary>As <see cref="Call(MultiHeadAttention, SymbolicTensor, SymbolicTensor, SymbolicTensor?, SymbolicTensor)"/>,
    /// returning every output (the attention scores too, with <see cref="MultiHeadAttention.ReturnAttentionScores"/>).</summary>
    public static IReadOnlyList<SymbolicTensor> CallMany(this MultiHeadAttention layer, SymbolicTensor query, SymbolicTensor value, SymbolicTensor? key, SymbolicTensor attentionMask) =>
        layer.CallMany([query, value, key ?? value, attentionMask]);
}
