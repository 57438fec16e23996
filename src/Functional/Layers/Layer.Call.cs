using Functional.Models;

namespace Functional.Layers;

public abstract partial record Layer
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
    /// <exception cref="InvalidOperationException">The layer returns several tensors: use <see cref="CallMany"/>.</exception>
    public SymbolicTensor Call(SymbolicTensor input) => Single(Graph.Apply(this, [input]));

    /// <summary>Applies a layer that takes several inputs (merge layers such as <c>Add</c> or <c>Concatenate</c>).</summary>
    /// <remarks>The same identity rule as <see cref="Call(SymbolicTensor)"/>: the instance is the layer.</remarks>
    public SymbolicTensor Call(params SymbolicTensor[] inputs) => Single(Graph.Apply(this, inputs));

    /// <summary>
    /// Applies a layer and returns every tensor it returns, in order (Keras's <c>outputs, state = layer(x)</c> for a layer
    /// whose call returns a list); one tensor for most layers.
    /// </summary>
    public IReadOnlyList<SymbolicTensor> CallMany(params SymbolicTensor[] inputs) => Graph.Apply(this, inputs).Outputs;

    private SymbolicTensor Single(Node node) => node.Outputs.Length == 1 ? node.Outputs[0] : throw new InvalidOperationException(
        $"{Describe()} returns {node.Outputs.Length} tensors; use CallMany to get them all.");
}
