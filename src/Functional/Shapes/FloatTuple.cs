using System.Collections;
using System.Collections.Immutable;
using System.Globalization;

namespace Functional.Shapes;

/// <summary>
/// Keras's "a float or a list of floats" argument (the <c>scale</c> and <c>offset</c> of <c>Rescaling</c>, the
/// <c>mean</c> and <c>variance</c> of <c>Normalization</c>): a scalar (NumPy shape <c>()</c>) or a list of values
/// (shape <c>(n,)</c>) that broadcasts against the last kept axis. The default value means "not given".
/// </summary>
/// <remarks>Compares by value and by form: the scalar <c>2.0</c> differs from the one-element list <c>[2.0]</c>, as
/// their NumPy shapes differ.</remarks>
public readonly struct FloatTuple : IEquatable<FloatTuple>, IReadOnlyList<double>
{
    private readonly ImmutableArray<double> _values;

    private FloatTuple(ImmutableArray<double> values, bool isScalar)
    {
        _values = values;
        IsScalar = isScalar;
    }

    /// <summary>A scalar, broadcast to every element.</summary>
    public FloatTuple(double value) : this([value], true) { }

    /// <summary>A list of values (shape <c>(n,)</c>), broadcast against the last kept axis.</summary>
    public static FloatTuple List(params double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new FloatTuple(values.ToImmutableArray(), false);
    }

    /// <summary>False for the default value (not given).</summary>
    public bool IsGiven => !_values.IsDefault;

    /// <summary>True for a scalar (NumPy shape <c>()</c>).</summary>
    public bool IsScalar { get; }

    /// <summary>The number of values (1 for a scalar, 0 when not given).</summary>
    public int Count => _values.IsDefault ? 0 : _values.Length;

    /// <summary>The value at <paramref name="index"/>.</summary>
    public double this[int index] => _values[index];

    /// <summary>NumPy's shape of the value: <c>()</c> for a scalar, <c>(n,)</c> for a list.</summary>
    public string ShapeText => IsScalar ? "()" : $"({Count},)";

    /// <inheritdoc />
    public IEnumerator<double> GetEnumerator() => ((IEnumerable<double>)(_values.IsDefault ? ImmutableArray<double>.Empty : _values)).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(FloatTuple other) => IsGiven == other.IsGiven && IsScalar == other.IsScalar && this.SequenceEqual(other);
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is FloatTuple t && Equals(t);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(IsScalar);
        foreach (var v in this) h.Add(v);
        return h.ToHashCode();
    }
    /// <summary>Value equality.</summary>
    public static bool operator ==(FloatTuple a, FloatTuple b) => a.Equals(b);
    /// <summary>Value inequality.</summary>
    public static bool operator !=(FloatTuple a, FloatTuple b) => !a.Equals(b);

    /// <summary>Python form: <c>None</c>, <c>0.5</c> or <c>[0.1, 0.2]</c>.</summary>
    public override string ToString() =>
        !IsGiven ? "None"
        : IsScalar ? Format(_values[0])
        : $"[{Excerpt.Values(_values, Format)}]";

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A scalar.</summary>
    public static implicit operator FloatTuple(double value) => new(value);
    /// <summary>A list.</summary>
    public static implicit operator FloatTuple(double[] values) => List(values);
}
