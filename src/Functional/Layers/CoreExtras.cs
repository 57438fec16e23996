using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>Reshapes each sample to <see cref="TargetShape"/> (Keras <c>Reshape</c>). No parameters.</summary>
/// <remarks>
/// <para>One entry of the target may be <c>-1</c>: it is inferred so that the number of elements is unchanged,
/// e.g. <c>Reshape((-1, 2, 2))</c> on <c>(12,)</c> gives <c>(3, 2, 2)</c>.</para>
/// <para>Elements keep their row-major order (the order of the logical, Keras-layout tensor).</para>
/// </remarks>
public sealed record Reshape : Layer
{
    /// <summary>Creates the layer; <paramref name="targetShape"/> excludes the batch dimension and may hold one <c>-1</c>.</summary>
    /// <exception cref="ArgumentException">An entry below <c>-1</c>, more than one <c>-1</c>, or an empty target.</exception>
    public Reshape(IntTuple targetShape) => TargetShape = targetShape;

    /// <summary>The per-sample target shape; one entry may be <c>-1</c> (inferred).</summary>
    public IntTuple TargetShape
    {
        get;
        init
        {
            if (value.Count == 0)
                throw new ArgumentException(
                    $"{ClassName}: expected argument 'targetShape' to be a non-empty tuple of integers. Received: targetShape=().", "targetShape");
            if (value.Any(d => d < -1))
                throw new ArgumentException(
                    $"{ClassName}: each dimension in 'targetShape' must be a non-negative integer, or -1 for a single unknown dimension. " +
                    $"Received: targetShape={KerasAxes.Tuple(value)}.", "targetShape");
            if (value.Count(d => d == -1) > 1)
                throw new ArgumentException(
                    $"{ClassName}: the 'targetShape' argument must not contain more than one -1 value. Received: targetShape={KerasAxes.Tuple(value)}.",
                    "targetShape");
            field = value;
        }
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        var target = TargetShape.ToArray();
        var unknown = Array.IndexOf(target, -1);
        // Keras's compute_reshape_output_shape: with an unknown input dimension the -1 cannot be inferred (it stays None)
        // and a fully given target is taken as it is.
        if (input.ElementCount is not { } size)
            return new Shape(target.Select(d => d == -1 ? null : (int?)d));
        var received = $"Received: input_shape={input.ToSampleString()}, target_shape={KerasAxes.Tuple(target)}.";
        if (unknown < 0)
        {
            if (Product(target) != size)
                throw ShapeError(input, null, $"the total size of the tensor must be unchanged ({size} elements per sample). {received}");
            return new Shape(target);
        }
        var known = Product(target.Where((_, i) => i != unknown));
        if (known <= 0 || size % known != 0)
            throw ShapeError(input, null,
                $"the total size of the tensor must be unchanged, however, the input size ({size}) cannot be divided by the specified dimensions in target_shape. {received}");
        var inferred = size / known;
        if (inferred > int.MaxValue)
            throw ShapeError(input, null, $"the inferred dimension {inferred} exceeds {int.MaxValue}. {received}");
        target[unknown] = (int)inferred;
        return new Shape(target);
    }

    // The exact product of the dimensions (-1 stands for the unknown one only before it is excluded).
    private static System.Numerics.BigInteger Product(IEnumerable<int> dims)
    {
        System.Numerics.BigInteger p = 1;
        foreach (var d in dims) p *= d;
        return p;
    }
}

/// <summary>Permutes the per-sample axes of the input (Keras <c>Permute</c>). No parameters.</summary>
/// <remarks><see cref="Dims"/> is 1-based and excludes the batch axis: <c>Permute((2, 1))</c> turns <c>(10, 64)</c> into <c>(64, 10)</c>.
/// Output axis i is input axis <c>dims[i]</c>.</remarks>
public sealed record Permute : Layer
{
    /// <summary>Creates the layer; <paramref name="dims"/> must be a permutation of 1…n.</summary>
    /// <exception cref="ArgumentException"><paramref name="dims"/> is not a permutation of 1…n.</exception>
    public Permute(IntTuple dims) => Dims = dims;

    /// <summary>The permutation pattern, 1-based, batch axis excluded.</summary>
    public IntTuple Dims
    {
        get;
        init => field = value.Count > 0 && value.Order().SequenceEqual(Enumerable.Range(1, value.Count))
            ? value
            : throw new ArgumentException(
                $"{ClassName}: invalid permutation argument 'dims'. The set of indices in 'dims' must be consecutive and start from 1. " +
                $"Received: dims={KerasAxes.Tuple(value)}.", "dims");
    }

    /// <summary>The permutation of a batched tensor's axes (0-based, batch first): <c>(0, dims…)</c>.</summary>
    public long[] TensorPermutation => [0, .. Dims.Select(d => (long)d)];

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != Dims.Count)
            throw ShapeError(input, null,
                $"expected a per-sample input of rank {Dims.Count} (one axis per entry of dims={KerasAxes.Tuple(Dims)}), got rank {input.Rank}.");
        return new Shape(Dims.Select(d => input[d - 1]));
    }
}

/// <summary>Repeats a vector <see cref="N"/> times (Keras <c>RepeatVector</c>): <c>(features)</c> → <c>(n, features)</c>. No parameters.</summary>
/// <remarks>Input shape (features) → output shape (n, features). No parameters.</remarks>
public sealed record RepeatVector : Layer
{
    /// <summary>Creates the layer; <paramref name="n"/> is the repetition factor.</summary>
    public RepeatVector(int n) => N = n;

    /// <summary>The repetition factor.</summary>
    public int N { get; init => field = value > 0 ? value : throw ArgumentError("n", value, "a strictly positive integer"); }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != 1)
            throw ShapeError(input, null, $"expected a per-sample input of rank 1 (features), got rank {input.Rank}.");
        return new Shape(N, input[0]);
    }
}

/// <summary>
/// The identity, with an activity penalty <c>l1·Σ|y| + l2·Σy²</c> on its output added to the training loss
/// (Keras <c>ActivityRegularization</c>). Shape unchanged, no parameters.
/// </summary>
/// <remarks>The penalty is this layer's <see cref="Layer.ActivityRegularizer"/> (an <see cref="L1L2"/>); built models add it,
/// divided by the batch size as Keras does, to <c>RegularizationLoss()</c> after each training-mode forward pass.</remarks>
public sealed record ActivityRegularization : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras's defaults are 0 and 0 (no penalty).</summary>
    public ActivityRegularization(double l1 = 0.0, double l2 = 0.0)
    {
        L1 = l1;
        L2 = l2;
    }

    /// <summary>The L1 factor (≥ 0).</summary>
    public double L1
    {
        get;
        init
        {
            field = double.IsFinite(value) && value >= 0 ? value : throw ArgumentError("l1", value, "a non-negative finite float");
            ActivityRegularizer = new L1L2(field, L2);
        }
    }

    /// <summary>The L2 factor (≥ 0).</summary>
    public double L2
    {
        get;
        init
        {
            field = double.IsFinite(value) && value >= 0 ? value : throw ArgumentError("l2", value, "a non-negative finite float");
            ActivityRegularizer = new L1L2(L1, field);
        }
    }

    /// <summary>
    /// The penalty: always <c>L1L2(l1, l2)</c>, set by <see cref="L1"/> and <see cref="L2"/> (Keras's layer takes no
    /// <c>activity_regularizer</c> of its own); another value is refused.
    /// </summary>
    public override Regularizer? ActivityRegularizer
    {
        get => base.ActivityRegularizer;
        init => base.ActivityRegularizer = Equals(value, new L1L2(L1, L2))
            ? value
            : throw ArgumentError("activityRegularizer", value,
                $"L1L2(l1={FormatValue(L1)}, l2={FormatValue(L2)}): ActivityRegularization's penalty is set by its l1 and l2");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>
/// Zeroes the timesteps whose features all equal <see cref="MaskValue"/> (Keras <c>Masking</c>): the output is the input
/// where any value along the last axis differs from the mask value, and 0 elsewhere. Shape unchanged, no parameters.
/// </summary>
/// <remarks>
/// Keras also attaches a boolean mask (<c>any(x != mask_value, axis=-1)</c>) that downstream layers such as LSTM use to skip
/// timesteps. Functional has no mask propagation yet: only the zeroing of masked positions happens, so a following
/// layer sees zeros there rather than skipping them.
/// </remarks>
public sealed record Masking : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; Keras's default mask value is 0.</summary>
    public Masking(double maskValue = 0.0) => MaskValue = maskValue;

    /// <summary>The value that marks a position as masked.</summary>
    public double MaskValue { get; init; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank < 1) throw ShapeError(input, null, "expected an input of rank at least 1 (the last axis holds the features).");
        return input;
    }
}
