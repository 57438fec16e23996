namespace Functional;

/// <summary>
/// A Keras weight constraint, applied to a weight after every optimizer update. Pure description; Functional.Torch applies it
/// to the weight in Keras's layout (so <c>axis</c> means what it means in Keras).
/// </summary>
public abstract record Constraint
{
    /// <summary>The Keras class name.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>Keras's identifiers: <c>max_norm</c>, <c>non_neg</c>, <c>unit_norm</c>, <c>min_max_norm</c>.</summary>
    public static implicit operator Constraint(string name) => name.Trim().ToLowerInvariant() switch
    {
        "max_norm" or "maxnorm" => new MaxNorm(),
        "non_neg" or "nonneg" => new NonNeg(),
        "unit_norm" or "unitnorm" => new UnitNorm(),
        "min_max_norm" or "minmaxnorm" => new MinMaxNorm(),
        _ => throw new ArgumentException($"Could not interpret constraint identifier: '{name}'.", nameof(name)),
    };
}

/// <summary>Clips each slice's L2 norm (over <see cref="Axis"/>) to at most <see cref="MaxValue"/> (Keras <c>MaxNorm</c>, defaults 2 and axis 0).</summary>
/// <param name="MaxValue">The largest norm allowed.</param>
/// <param name="Axis">The axes the norm is taken over, in Keras's weight layout.</param>
public sealed record MaxNorm(double MaxValue = 2.0, IntTuple Axis = default) : Constraint;

/// <summary>Sets negative weights to zero (Keras <c>NonNeg</c>).</summary>
public sealed record NonNeg : Constraint;

/// <summary>Scales each slice to unit L2 norm over <see cref="Axis"/> (Keras <c>UnitNorm</c>, axis 0).</summary>
/// <param name="Axis">The axes the norm is taken over, in Keras's weight layout.</param>
public sealed record UnitNorm(IntTuple Axis = default) : Constraint;

/// <summary>Keeps each slice's norm within [min, max], moving it by <see cref="Rate"/> (Keras <c>MinMaxNorm</c>, defaults 0, 1, 1, axis 0).</summary>
/// <param name="MinValue">The smallest norm allowed.</param>
/// <param name="MaxValue">The largest norm allowed.</param>
/// <param name="Rate">1 enforces strictly; smaller values move part-way each step.</param>
/// <param name="Axis">The axes the norm is taken over, in Keras's weight layout.</param>
public sealed record MinMaxNorm(double MinValue = 0.0, double MaxValue = 1.0, double Rate = 1.0, IntTuple Axis = default) : Constraint;
