using Functional.Shapes;
using System.Globalization;

namespace Functional.Functions;

/// <summary>
/// A Keras weight constraint, applied to a weight after every optimizer update. Pure description; Functional.Torch applies it
/// to the weight in Keras's layout (so <c>axis</c> means what it means in Keras: 0 for a Dense kernel's input axis,
/// (0, 1, 2) for a whole Conv2D filter).
/// </summary>
/// <remarks>
/// Keras's formulas (keras/src/constraints/constraints.py), with norms = √Σ w² over <c>axis</c> (kept dims) and
/// ε = 1e-7 added to the norm in the denominator: MaxNorm w·clip(norms, 0, max)/(ε + norms); UnitNorm w/(ε + norms);
/// MinMaxNorm w·(rate·clip(norms, min, max) + (1 − rate)·norms)/(ε + norms); NonNeg max(w, 0).
/// </remarks>
public abstract record Constraint
{
    /// <summary>Keras's <c>backend.epsilon()</c>, added to the norm in the denominator.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>The Keras class name.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>Keras's identifiers: <c>max_norm</c>, <c>non_neg</c>, <c>unit_norm</c>, <c>min_max_norm</c> and the class names.</summary>
    public static implicit operator Constraint(string name) => OptionConversion.Convert(name, n => Get(n!));

    /// <summary>
    /// The constraint a Keras identifier names, with Keras's defaults: the class names (<c>MaxNorm</c>) and their snake-case
    /// forms (<c>max_norm</c>), ignoring case and surrounding spaces; Keras 2's <c>maxnorm</c>, <c>nonneg</c>,
    /// <c>unitnorm</c> are accepted too.
    /// </summary>
    /// <exception cref="ArgumentException">The identifier is unknown; the message names it.</exception>
    public static Constraint Get(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "max_norm" or "maxnorm" => new MaxNorm(),
        "non_neg" or "nonneg" => new NonNeg(),
        "unit_norm" or "unitnorm" => new UnitNorm(),
        "min_max_norm" or "minmaxnorm" => new MinMaxNorm(),
        _ => throw new ArgumentException(
            $"Could not interpret constraint identifier: {Padding.Quote(name)}. Known: 'max_norm', 'non_neg', 'unit_norm', 'min_max_norm' " +
            "(or the class names 'MaxNorm', 'NonNeg', 'UnitNorm', 'MinMaxNorm').", "constraint"),
    };

    /// <summary>
    /// The axes the norm is taken over for a weight of Keras-layout rank <paramref name="rank"/>, negative axes counted from
    /// the end; throws when an axis does not exist or repeats.
    /// </summary>
    /// <exception cref="ArgumentException">An axis is out of range for the weight, or repeated.</exception>
    public int[] ResolveAxes(IntTuple axis, int rank)
    {
        var resolved = new List<int>();
        foreach (var a in axis)
        {
            var r = a < 0 ? a + rank : a;
            if (r < 0 || r >= rank)
                throw new ArgumentException(
                    $"{ClassName}: axis {a} is out of range for a weight of rank {rank}. Received: axis={axis}.", "axis");
            if (resolved.Contains(r))
                throw new ArgumentException($"{ClassName}: axis {a} is repeated. Received: axis={axis}.", "axis");
            resolved.Add(r);
        }
        return [.. resolved];
    }

    /// <summary>Keras's default axis, 0, for an axis that was not given.</summary>
    private protected static IntTuple AxisOrDefault(IntTuple axis) => axis.Count == 0 ? new IntTuple(0) : axis;

    /// <summary>Requires a non-negative finite number.</summary>
    private protected double NonNegative(double value, string argument) =>
        double.IsFinite(value) && value >= 0
            ? value
            : throw new ArgumentException(
                $"{ClassName}: expected argument '{argument}' to be a non-negative finite number. Received: {argument}={F(value)}.", argument);

    private protected static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// Clips each slice's L2 norm (taken over <see cref="Axis"/>) to at most <see cref="MaxValue"/> (Keras <c>MaxNorm</c>,
/// defaults 2 and axis 0): w · clip(norms, 0, max_value) / (ε + norms).
/// </summary>
public sealed record MaxNorm : Constraint
{
    /// <summary>Creates the constraint with Keras's defaults: max_value 2, axis 0.</summary>
    /// <param name="maxValue">The largest norm allowed; non-negative.</param>
    /// <param name="axis">The axes the norm is taken over, in Keras's weight layout (default 0).</param>
    public MaxNorm(double maxValue = 2.0, IntTuple axis = default)
    {
        MaxValue = maxValue;
        Axis = axis;
    }

    /// <summary>The largest norm allowed.</summary>
    public double MaxValue { get; init => field = NonNegative(value, "maxValue"); }

    /// <summary>The axes the norm is taken over, in Keras's weight layout (0 when not given).</summary>
    public IntTuple Axis { get; init => field = AxisOrDefault(value); }
}

/// <summary>Sets negative weights to zero: max(w, 0) (Keras <c>NonNeg</c>).</summary>
public sealed record NonNeg : Constraint;

/// <summary>Scales each slice to unit L2 norm over <see cref="Axis"/>: w / (ε + norms) (Keras <c>UnitNorm</c>, axis 0).</summary>
public sealed record UnitNorm : Constraint
{
    /// <summary>Creates the constraint with Keras's default axis 0.</summary>
    /// <param name="axis">The axes the norm is taken over, in Keras's weight layout (default 0).</param>
    public UnitNorm(IntTuple axis = default) => Axis = axis;

    /// <summary>The axes the norm is taken over, in Keras's weight layout (0 when not given).</summary>
    public IntTuple Axis { get; init => field = AxisOrDefault(value); }
}

/// <summary>
/// Moves each slice's norm into [<see cref="MinValue"/>, <see cref="MaxValue"/>] at <see cref="Rate"/> (Keras
/// <c>MinMaxNorm</c>, defaults 0, 1, 1, axis 0): w · (rate·clip(norms, min, max) + (1 − rate)·norms) / (ε + norms).
/// </summary>
public sealed record MinMaxNorm : Constraint
{
    /// <summary>Creates the constraint with Keras's defaults: min 0, max 1, rate 1, axis 0.</summary>
    /// <param name="minValue">The smallest norm allowed; non-negative.</param>
    /// <param name="maxValue">The largest norm allowed; at least <paramref name="minValue"/>.</param>
    /// <param name="rate">In [0, 1]: 1 enforces strictly, smaller values move part-way each step.</param>
    /// <param name="axis">The axes the norm is taken over, in Keras's weight layout (default 0).</param>
    public MinMaxNorm(double minValue = 0.0, double maxValue = 1.0, double rate = 1.0, IntTuple axis = default)
    {
        MinValue = minValue;
        MaxValue = maxValue;
        Rate = rate;
        Axis = axis;
        Validate();
    }

    /// <summary>The smallest norm allowed.</summary>
    public double MinValue { get; init => field = NonNegative(value, "minValue"); }

    /// <summary>The largest norm allowed.</summary>
    public double MaxValue { get; init => field = NonNegative(value, "maxValue"); }

    /// <summary>1 enforces strictly; smaller values move part-way each step.</summary>
    public double Rate
    {
        get;
        init => field = value is >= 0 and <= 1
            ? value
            : throw new ArgumentException($"{ClassName}: expected argument 'rate' to be between 0 and 1. Received: rate={F(value)}.", "rate");
    }

    /// <summary>The axes the norm is taken over, in Keras's weight layout (0 when not given).</summary>
    public IntTuple Axis { get; init => field = AxisOrDefault(value); }

    /// <summary>Checks that minValue ≤ maxValue (also re-run before applying, since <c>with</c> bypasses the constructor).</summary>
    public void Validate()
    {
        if (MinValue > MaxValue)
            throw new ArgumentException(
                $"{ClassName}: expected argument 'minValue' to be at most 'maxValue'. Received: minValue={F(MinValue)}, maxValue={F(MaxValue)}.", "minValue");
    }
}
