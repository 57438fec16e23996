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
    public SymbolicTensor Call(SymbolicTensor input) => Graph.Apply(this, [input]).Outputs[0];

    /// <summary>Applies a layer that takes several inputs (merge layers such as <c>Add</c> or <c>Concatenate</c>).</summary>
    /// <remarks>The same identity rule as <see cref="Call(SymbolicTensor)"/>: the instance is the layer.</remarks>
    public SymbolicTensor Call(params SymbolicTensor[] inputs) => Graph.Apply(this, inputs).Outputs[0];
}
