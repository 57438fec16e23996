using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Functional.Torch;

/// <summary>
/// One built weight: its Keras name, the TorchSharp parameter (in PyTorch's layout), how to view it in Keras's layout,
/// and the regularizer and constraint the record asked for.
/// </summary>
/// <param name="Name">Keras's name: <c>kernel</c> within a layer, <c>conv2d/kernel</c> from a model.</param>
/// <param name="Parameter">The tensor that training updates.</param>
/// <param name="Trainable">False for frozen layers and for statistics.</param>
/// <param name="KerasPermutation">Permutation from PyTorch's layout to Keras's (null when they agree).</param>
/// <param name="Regularizer">Penalty added to the loss.</param>
/// <param name="Constraint">Projection applied after every update.</param>
public sealed record WeightBinding(string Name, Parameter Parameter, bool Trainable, long[]? KerasPermutation,
    Regularizer? Regularizer, Constraint? Constraint)
{
    /// <summary>The weight in Keras's layout (a view: writes go to the parameter).</summary>
    public Tensor KerasView() => KerasPermutation is null ? Parameter.alias() : Parameter.permute(KerasPermutation);

    /// <summary>The same binding under a prefixed name (<c>conv2d/</c> + name).</summary>
    public WeightBinding Prefixed(string prefix) => this with { Name = $"{prefix}/{Name}" };
}

/// <summary>Keras regularizers on tensors.</summary>
public static class RegularizerOps
{
    /// <summary>The penalty as a scalar tensor (Keras's formulas: <c>l1·Σ|x| + l2·Σx²</c>).</summary>
    public static Tensor Penalty(Regularizer regularizer, Tensor x) => regularizer switch
    {
        L1L2 r => x.abs().sum() * r.L1Factor + x.square().sum() * r.L2Factor,
        L1 r => x.abs().sum() * r.Factor,
        L2 r => x.square().sum() * r.Factor,
        _ => Custom.TryGetValue(regularizer.GetType(), out var f)
            ? f(regularizer, x)
            : throw new NotSupportedException($"No tensor form is registered for regularizer {regularizer.ClassName}."),
    };

    private static readonly Dictionary<Type, Func<Regularizer, Tensor, Tensor>> Custom = new();

    /// <summary>Registers the tensor form of a custom regularizer type.</summary>
    public static void Register<T>(Func<T, Tensor, Tensor> penalty) where T : Regularizer =>
        Custom[typeof(T)] = (r, x) => penalty((T)r, x);
}

/// <summary>Keras constraints on tensors, applied to a weight's Keras-layout view in place.</summary>
public static class ConstraintOps
{
    /// <summary>Applies <paramref name="constraint"/> to <paramref name="kerasView"/> in place (no gradient is recorded).</summary>
    public static void Apply(Constraint constraint, Tensor kerasView)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = kerasView;
        switch (constraint)
        {
            case NonNeg:
                w.clamp_(min: 0.0);
                break;
            case MaxNorm c:
            {
                var norms = Norms(w, c.Axis);
                var desired = norms.clamp(0.0, c.MaxValue);
                w.mul_(desired / (norms + 1e-7));
                break;
            }
            case UnitNorm c:
                w.div_(Norms(w, c.Axis) + 1e-7);
                break;
            case MinMaxNorm c:
            {
                var norms = Norms(w, c.Axis);
                var desired = norms.clamp(c.MinValue, c.MaxValue) * c.Rate + norms * (1 - c.Rate);
                w.mul_(desired / (norms + 1e-7));
                break;
            }
            default:
                if (!Custom.TryGetValue(constraint.GetType(), out var f))
                    throw new NotSupportedException($"No tensor form is registered for constraint {constraint.ClassName}.");
                w.copy_(f(constraint, w));
                break;
        }
    }

    private static readonly Dictionary<Type, Func<Constraint, Tensor, Tensor>> Custom = new();

    /// <summary>Registers a custom constraint: a function from the Keras-layout weight to its projection.</summary>
    public static void Register<T>(Func<T, Tensor, Tensor> project) where T : Constraint =>
        Custom[typeof(T)] = (c, w) => project((T)c, w);

    // Keras: sqrt(sum(square(w), axis, keepdims=True)); axis defaults to 0; negative axes count from the end.
    private static Tensor Norms(Tensor w, IntTuple axis)
    {
        var axes = (axis.Count == 0 ? [0] : axis.ToArray()).Select(a => (long)(a < 0 ? a + w.dim() : a)).ToArray();
        return w.square().sum(axes, keepdim: true).sqrt();
    }
}
