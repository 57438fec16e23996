using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Functional.Torch.Building;

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

/// <summary>Keras regularizers on tensors (keras/src/regularizers/regularizers.py).</summary>
public static class RegularizerOps
{
    /// <summary>
    /// The penalty as a scalar tensor, by Keras's formulas: <c>l1·Σ|x| + l2·Σx²</c>, and OrthogonalRegularizer's
    /// factor·½·Σ_{i≠j}|⟨uᵢ, uⱼ⟩| / (n(n−1)/2) over the L2-normalised rows (columns) uᵢ. <paramref name="x"/> must be in
    /// Keras's layout for shape-dependent regularizers (a weight's <see cref="WeightBinding.KerasView"/>).
    /// </summary>
    public static Tensor Penalty(Regularizer regularizer, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(regularizer);
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        var penalty = regularizer switch
        {
            L1L2 r => x.abs().sum() * r.L1Factor + x.square().sum() * r.L2Factor,
            L1 r => x.abs().sum() * r.Factor,
            L2 r => x.square().sum() * r.Factor,
            OrthogonalRegularizer r => Orthogonal(r, x),
            _ => Custom.TryGetValue(regularizer.GetType(), out var f)
                ? f(regularizer, x)
                : throw new NotSupportedException($"No tensor form is registered for regularizer {regularizer.ClassName}."),
        };
        return penalty.MoveToOuterDisposeScope();
    }

    private static Tensor Orthogonal(OrthogonalRegularizer r, Tensor x)
    {
        r.CheckShape(x.shape.Select(d => (int)d).ToArray());
        var rows = r.Mode == "rows";
        var axis = rows ? 1L : 0L;
        // Keras's ops.normalize(x, axis, order=2): x · min(rsqrt(Σx²), 1/ε).
        var inv = x.square().sum(axis, keepdim: true).rsqrt().clamp(max: 1.0 / OrthogonalRegularizer.Epsilon);
        var unit = x * inv;
        var product = rows ? unit.matmul(unit.t()) : unit.t().matmul(unit);
        var size = product.shape[0];
        var offDiagonal = product * (1.0 - torch.eye(size, dtype: x.dtype, device: x.device));
        var pairs = size * (size - 1.0) / 2.0;
        return offDiagonal.abs().sum() * (r.Factor * 0.5 / pairs);
    }

    // Registered from any thread while others train: a concurrent map.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, Func<Regularizer, Tensor, Tensor>> Custom = new();

    /// <summary>Registers the tensor form of a custom regularizer type.</summary>
    public static void Register<T>(Func<T, Tensor, Tensor> penalty) where T : Regularizer =>
        Custom[typeof(T)] = (r, x) => penalty((T)r, x);
}

/// <summary>
/// Keras constraints on tensors (keras/src/constraints/constraints.py), applied in place to a weight's Keras-layout view,
/// so <c>axis</c> means what it means in Keras. norms = √Σw² over the axes (kept dims); ε = 1e-7 is added to the norm in
/// the denominator, as Keras does.
/// </summary>
public static class ConstraintOps
{
    /// <summary>Applies <paramref name="constraint"/> to <paramref name="kerasView"/> in place (no gradient is recorded).</summary>
    /// <exception cref="ArgumentException">An axis does not exist in the weight, or the arguments are inconsistent.</exception>
    public static void Apply(Constraint constraint, Tensor kerasView)
    {
        ArgumentNullException.ThrowIfNull(constraint);
        ArgumentNullException.ThrowIfNull(kerasView);
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
                var norms = Norms(c, w, c.Axis);
                var desired = norms.clamp(0.0, c.MaxValue);
                w.mul_(desired / (norms + Constraint.Epsilon));
                break;
            }
            case UnitNorm c:
                w.div_(Norms(c, w, c.Axis) + Constraint.Epsilon);
                break;
            case MinMaxNorm c:
            {
                c.Validate();
                var norms = Norms(c, w, c.Axis);
                var desired = norms.clamp(c.MinValue, c.MaxValue) * c.Rate + norms * (1 - c.Rate);
                w.mul_(desired / (norms + Constraint.Epsilon));
                break;
            }
            default:
                if (!Custom.TryGetValue(constraint.GetType(), out var f))
                    throw new NotSupportedException($"No tensor form is registered for constraint {constraint.ClassName}.");
                w.copy_(f(constraint, w));
                break;
        }
    }

    // Registered from any thread while others train: a concurrent map.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, Func<Constraint, Tensor, Tensor>> Custom = new();

    /// <summary>Registers a custom constraint: a function from the Keras-layout weight to its projection.</summary>
    public static void Register<T>(Func<T, Tensor, Tensor> project) where T : Constraint =>
        Custom[typeof(T)] = (c, w) => project((T)c, w);

    // Keras: sqrt(sum(square(w), axis, keepdims=True)); negative axes count from the end.
    private static Tensor Norms(Constraint c, Tensor w, IntTuple axis)
    {
        var axes = c.ResolveAxes(axis, (int)w.dim()).Select(a => (long)a).ToArray();
        return w.square().sum(axes, keepdim: true).sqrt();
    }
}
