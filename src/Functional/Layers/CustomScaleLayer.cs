using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// The residual sum of Inception-ResNet-v2: <c>inputs[0] + inputs[1] · scale</c> (Keras's <c>CustomScaleLayer</c> from
/// <c>keras/src/applications/inception_resnet_v2.py</c>, kept under that class name so Keras's layer names match).
/// </summary>
/// <remarks>Takes exactly two inputs of equal shape (the block input and its residual); output of the same shape; no parameters.</remarks>
public sealed record CustomScaleLayer : Layer
{
    /// <summary>Creates the layer with the factor applied to the second input.</summary>
    public CustomScaleLayer(double scale) => Scale = scale;

    /// <summary>The factor applied to the residual (the second input).</summary>
    public double Scale { get; init => field = double.IsFinite(value) ? value : throw ArgumentError("scale", value, "a finite float"); }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) =>
        throw ShapeError(input, null, "expects a list of two inputs [x, residual]; received a single input shape.");

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 2)
            throw new ShapeException(this, inputs, null, $"expects exactly two inputs [x, residual]; received {inputs.Count}.");
        if (!inputs[0].IsCompatibleWith(inputs[1]))
            throw new ShapeException(this, inputs, null,
                $"the input {inputs[0].ToSampleString()} and the residual {inputs[1].ToSampleString()} must have the same shape.");
        return inputs[0];
    }
}
