using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// One weight's Keras options as one value: the initializer, regularizer and constraint that a layer's arguments give in a
/// block per weight (<c>kernel_initializer</c>, <c>kernel_regularizer</c>, <c>kernel_constraint</c>; the same for
/// <c>bias</c>, <c>gamma</c>, …). Layers expose each block (<c>dense.Kernel</c>, <c>conv.Bias</c>) and declare their
/// weights from it, so the three travel together from the arguments to the weight's declaration.
/// </summary>
/// <param name="Initializer">How the weight is filled when built.</param>
/// <param name="Regularizer">Penalty added to the loss for it, if any.</param>
/// <param name="Constraint">Projection applied after each update, if any.</param>
public readonly record struct WeightOptions(Initializer Initializer, Regularizer? Regularizer = null, Constraint? Constraint = null)
{
    /// <summary>The declaration of a weight named <paramref name="name"/> of Keras shape <paramref name="shape"/> with these options.</summary>
    public ParameterSpec Declare(string name, Shape shape, bool trainable = true) =>
        new(name, shape, Initializer, trainable, Regularizer, Constraint);
}
