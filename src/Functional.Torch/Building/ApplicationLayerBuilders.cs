using Functional.Shapes;
using Functional.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Inception-ResNet-v2's <c>x + residual · scale</c>: elementwise on equal shapes, so any layout will do.</summary>
internal sealed class BuiltCustomScaleLayer : BuiltLayer
{
    private readonly double scale;

    public BuiltCustomScaleLayer(CustomScaleLayer layer, IReadOnlyList<Shape> inputs) : base(layer, inputs) => scale = layer.Scale;

    public override PhysicalLayout Layout => PhysicalLayout.Any;

    public override Tensor forward(Tensor x) => Forward([x]);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        if (inputs.Count != 2)
            throw new ArgumentException($"{Layer.Describe()} takes two inputs [x, residual]; received {inputs.Count}.", nameof(inputs));
        using var scaled = inputs[1] * scale;
        return inputs[0] + scaled;
    }
}

internal sealed class CustomScaleLayerBuilder : MultiInputLayerBuilder<CustomScaleLayer>
{
    public override BuiltLayer Build(CustomScaleLayer layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        new BuiltCustomScaleLayer(layer, inputShapes);
}
