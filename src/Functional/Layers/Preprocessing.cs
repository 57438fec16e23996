using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Multiplies its input by <see cref="Scale"/> and adds <see cref="Offset"/> (Keras <c>Rescaling</c>): <c>x · scale + offset</c>.
/// Shape unchanged, no parameters.
/// </summary>
/// <remarks>
/// A list scale or offset broadcasts against the last axis (the channels of a <c>channels_last</c> image), e.g.
/// <c>new Rescaling(1.0 / 255)</c> maps pixels to [0, 1] and <c>new Rescaling(1.0 / 127.5, -1)</c> to [−1, 1].
/// </remarks>
public sealed record Rescaling : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras's arguments: <paramref name="scale"/> (required) and <paramref name="offset"/> (default 0).</summary>
    public Rescaling(FloatTuple scale, FloatTuple offset = default)
    {
        Scale = scale;
        Offset = offset.IsGiven ? offset : new FloatTuple(0.0);
    }

    /// <summary>The factor: a float, or one float per element of the last axis.</summary>
    public FloatTuple Scale
    {
        get;
        init => field = value.IsGiven && value.Count > 0 && value.All(double.IsFinite)
            ? value
            : throw ArgumentError("scale", value, "a finite float or a non-empty list of finite floats");
    }

    /// <summary>Added after scaling: a float (default 0), or one float per element of the last axis.</summary>
    public FloatTuple Offset
    {
        get;
        init => field = value.IsGiven && value.Count > 0 && value.All(double.IsFinite)
            ? value
            : throw ArgumentError("offset", value, "a finite float or a non-empty list of finite floats");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        CheckBroadcast(input, Scale, "scale");
        CheckBroadcast(input, Offset, "offset");
        return input;
    }

    private void CheckBroadcast(Shape input, FloatTuple value, string argument)
    {
        if (value.IsScalar || value.Count == 1) return;
        if (input.Rank == 0 || input[-1] is { } last && last != value.Count)
            throw ShapeError(input, input.Rank == 0 ? null : input.Rank - 1,
                $"'{argument}' holds {value.Count} values, which cannot broadcast against the last axis" +
                (input.Rank == 0 ? " (the input has no per-sample axes)." : $" of size {input[-1]}."));
    }
}

/// <summary>
/// Shifts and scales inputs to zero mean and unit variance per index of <see cref="Axis"/> (Keras <c>Normalization</c>):
/// <c>(x − mean) / max(√variance, 1e-7)</c>, or its inverse <c>mean + x · max(√variance, 1e-7)</c> with <see cref="Invert"/>.
/// Shape unchanged.
/// </summary>
/// <remarks>
/// <para><see cref="Axis"/> counts the batch axis as Keras does (default <c>-1</c>, the last axis; an empty axis — Keras's
/// <c>axis=None</c>, see <see cref="OverAllAxes"/> — uses one scalar mean and variance). Each kept axis has its own
/// statistics, of shape <c>(input[a] for a in sorted(axis))</c>.</para>
/// <para>Without <see cref="Mean"/> and <see cref="Variance"/> the statistics are the layer's non-trainable weights, as in
/// Keras: <c>mean</c> (zeros), <c>variance</c> (ones) and the integer <c>count</c> (a scalar, 0), so an RGB layer has 7
/// parameters, all non-trainable (they are set by Keras's <c>adapt</c> or loaded). With both given the layer has no weights and
/// the values broadcast against the kept axes, aligned on the right.</para>
/// </remarks>
public sealed record Normalization : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras's arguments and defaults: axis <c>-1</c>, no mean and variance (weights to be adapted or loaded), no inversion.</summary>
    /// <exception cref="ArgumentException">Only one of mean and variance is given, their shapes differ, or a list is given with no axis to hold it.</exception>
    public Normalization(IntTuple axis = default, FloatTuple mean = default, FloatTuple variance = default, bool invert = false)
    {
        Axis = axis.Count == 0 ? new IntTuple(-1) : axis;
        Mean = mean;
        Variance = variance;
        Invert = invert;
        Validate();
        EndConstruction();
    }

    // Keras's axis=None, which the public constructor cannot express (an empty axis there means Keras's default, -1).
    private Normalization(FloatTuple mean, FloatTuple variance, bool invert)
    {
        Axis = default;
        Mean = mean;
        Variance = variance;
        Invert = invert;
        Validate();
        EndConstruction();
    }

    /// <summary>Keras's <c>Normalization(axis=None)</c>: one scalar mean and variance for all elements.</summary>
    public static Normalization OverAllAxes(FloatTuple mean = default, FloatTuple variance = default, bool invert = false) =>
        new(mean, variance, invert);

    /// <summary>
    /// The axes with their own statistics, counting the batch axis; empty for a single scalar (Keras's <c>None</c>).
    /// Checked together with <see cref="Mean"/> and <see cref="Variance"/>, which must be given both or neither, with one
    /// shape: a <c>with</c> cannot give them one at a time, so a new mean and variance take the constructor.
    /// </summary>
    public IntTuple Axis { get; init { field = value; Recheck(Validate); } }

    /// <summary>The mean to use, or not given (the mean is then a weight).</summary>
    public FloatTuple Mean { get; init { field = value; Recheck(Validate); } }

    /// <summary>The variance to use, or not given (the variance is then a weight).</summary>
    public FloatTuple Variance { get; init { field = value; Recheck(Validate); } }

    /// <summary>Whether to undo the normalisation instead: <c>mean + x · √variance</c>.</summary>
    public bool Invert { get; init; }

    /// <summary>True when the statistics are weights (no <see cref="Mean"/>/<see cref="Variance"/> given).</summary>
    public bool HasWeights => !Mean.IsGiven;

    /// <summary>Keras's construction-time checks on mean and variance: by the constructors, then after each assignment of a <c>with</c>.</summary>
    private void Validate()
    {
        if (Mean.IsGiven != Variance.IsGiven)
            throw new ArgumentException(
                $"{ClassName}: when setting values directly, both `mean` and `variance` must be set. Received: mean={Mean} and variance={Variance}.",
                Mean.IsGiven ? "variance" : "mean");
        if (!Mean.IsGiven) return;
        if (Mean.ShapeText != Variance.ShapeText)
            throw new ArgumentException(
                $"{ClassName}: when setting values directly, `mean` and `variance` must have the same shape. Received: mean shape {Mean.ShapeText} and variance shape {Variance.ShapeText}.",
                "variance");
        if (!Mean.IsScalar && Axis.Count < 1)
            throw new ArgumentException(
                $"{ClassName}: the rank of `mean` must be less than or equal to the number of axes ({Axis.Count}). Received: mean shape {Mean.ShapeText} for axis {KerasAxes.Tuple(Axis)}.",
                "mean");
        if (Mean.Concat(Variance).Any(v => !double.IsFinite(v)) || Variance.Any(v => v < 0))
            throw new ArgumentException(
                $"{ClassName}: expected finite `mean` values and finite, non-negative `variance` values. Received: mean={Mean} and variance={Variance}.",
                "variance");
    }

    /// <summary>The kept axes as sorted per-sample indices (batch excluded) for an input of this shape.</summary>
    /// <exception cref="ShapeException">An axis outside the input's rank, or the batch axis (its size is unknown).</exception>
    public int[] KeptAxes(Shape input)
    {
        var ndim = input.Rank + 1;
        if (Axis.Any(a => a < -ndim || a >= ndim))
            throw ShapeError(input, null,
                $"All `axis` values must be in the range [-ndim, ndim). Received inputs with ndim={ndim}, while axis={KerasAxes.Tuple(Axis)}.");
        var kept = Axis.Select(a => a < 0 ? a + ndim : a).Distinct().Order().ToArray();
        if (kept.Contains(0))
            throw ShapeError(input, null,
                $"All `axis` values to be kept must have a known shape. Received axis={KerasAxes.Tuple(Axis)}, inputs.shape={input}, with unknown axis at index 0 (the batch axis).");
        return kept.Select(a => a - 1).ToArray();
    }

    /// <summary>The shape of the statistics: the sizes of the kept axes, in order (<c>()</c> for a scalar).</summary>
    /// <exception cref="ShapeException">A kept axis is unknown (Keras: "All `axis` values to be kept must have a known shape").</exception>
    public Shape StatisticsShape(Shape input) => new(KeptAxes(input).Select(a => input[a] ?? throw ShapeError(input, a,
        $"All `axis` values to be kept must have a known shape. Received axis={KerasAxes.Tuple(Axis)}, inputs.shape={input}, with unknown axis at index {a + 1}.")));

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        var kept = KeptAxes(input);
        if (Mean.IsGiven && !Mean.IsScalar && Mean.Count != 1)
        {
            var last = kept[^1];
            if (input[last] is { } size && size != Mean.Count)
                throw ShapeError(input, last,
                    $"`mean` and `variance` hold {Mean.Count} values, which cannot broadcast against axis {last + 1} (counting the batch axis) of size {input[last]}.");
        }
        return input;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShape(input);
        if (!HasWeights) return [];
        var shape = StatisticsShape(input);
        return
        [
            new("mean", shape, new Zeros(), Trainable: false),
            new("variance", shape, new Ones(), Trainable: false),
            new("count", new Shape(Array.Empty<int>()), new Zeros(), Trainable: false, Dtype: "int64"),
        ];
    }
}
