using Functional;
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch;
using Functional.Torch.Building;
using TorchSharp;
using static TorchSharp.torch;

namespace CSharpApi;

/// <summary>
/// A user-defined layer with two outputs, the way a Keras user writes a layer whose <c>call</c> returns a list: the
/// per-feature minimum and maximum over the steps of a <c>(steps, features)</c> input. The record declares its outputs
/// (<see cref="OutputCount"/>, <see cref="ComputeOutputShapes"/>); <see cref="StepRangeBuilder"/> computes them.
/// Register both once with <see cref="CustomLayers.Register"/>.
/// </summary>
public sealed record StepRange : Layer
{
    /// <inheritdoc />
    public override int OutputCount => 2;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => ComputeOutputShapes([input])[0];

    /// <summary>Two outputs of shape <c>(features,)</c>: the minimum, then the maximum.</summary>
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs)
    {
        if (inputs.Count != 1 || inputs[0].Rank != 2)
            throw new ShapeException(this, inputs, null, "expects one input of shape (steps, features).");
        var features = new Shape(inputs[0][1]);
        return [features, features];
    }
}

/// <summary>Builds <see cref="StepRange"/>: two reductions over the steps axis.</summary>
public sealed class StepRangeBuilder : LayerBuilder<StepRange>
{
    /// <inheritdoc />
    public override BuiltLayer Build(StepRange layer, Shape inputShape, BuildContext context) => new Built(layer, inputShape);

    private sealed class Built(StepRange layer, Shape input) : BuiltLayer(layer, input)
    {
        public override Tensor forward(Tensor x) => throw new InvalidOperationException("StepRange has two outputs.");

        protected override IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
            [inputs[0].amin([1L]), inputs[0].amax([1L])];
    }
}

/// <summary>The custom layers of this example, registered for building and for configs.</summary>
public static class CustomLayers
{
    /// <summary>Registers <see cref="StepRange"/>'s builder and its config class name (idempotent).</summary>
    public static void Register()
    {
        LayerBuilders.Register(new StepRangeBuilder());
        LayerConfig.Register(typeof(StepRange));
    }

    /// <summary>A model using both outputs: a sequence's feature ranges, each through its own Dense, concatenated.</summary>
    public static Model RangeModel()
    {
        var x = Graph.Input(6, 3);
        var outputs = new StepRange { Name = "range" }.CallMany(x);
        var low = new Dense(2) { Name = "low" }.Call(outputs[0]);
        var high = new Dense(2) { Name = "high" }.Call(outputs[1]);
        return new Model(x, new Concatenate { Name = "both" }.Call(low, high), "ranges");
    }
}
