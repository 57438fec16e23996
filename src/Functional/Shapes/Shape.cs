using System.Collections;
using System.Collections.Immutable;

namespace Functional.Shapes;

/// <summary>
/// The shape of one sample: every dimension except the batch dimension, which stays unknown (Keras's <c>None</c>).
/// A dimension is known (a positive integer) or unknown (<c>null</c>, Keras's <c>None</c>): <c>new Shape(null, null, 3)</c>
/// is an image of any size with three channels, <c>new Shape(null, 8)</c> a sequence of any length.
/// </summary>
/// <remarks>Shapes compare by value. <see cref="ToString"/> prints the Keras form with the batch dimension, e.g. <c>(None, 28, 28, 1)</c>.</remarks>
public sealed class Shape : IEquatable<Shape>, IReadOnlyList<int?>
{
    private readonly ImmutableArray<int?> _dims;

    /// <summary>Creates a fully known shape from its per-sample dimensions; each must be positive.</summary>
    /// <exception cref="ArgumentException">A dimension is zero or negative.</exception>
    public Shape(params int[] dims) : this((IEnumerable<int>)dims) { }

    /// <summary>Creates a shape from its per-sample dimensions: positive integers, or <c>null</c> for an unknown dimension.</summary>
    /// <exception cref="ArgumentException">A dimension is zero or negative.</exception>
    public Shape(params int?[] dims) : this((IEnumerable<int?>)dims) { }

    /// <summary>Creates a fully known shape from its per-sample dimensions; each must be positive.</summary>
    public Shape(IEnumerable<int> dims) : this((dims ?? throw new ArgumentNullException(nameof(dims))).Select(d => (int?)d)) { }

    /// <summary>Creates a shape from its per-sample dimensions: positive integers, or <c>null</c> for an unknown dimension.</summary>
    public Shape(IEnumerable<int?> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        _dims = dims.ToImmutableArray();
        for (var i = 0; i < _dims.Length; i++)
            if (_dims[i] is <= 0)
                throw new ArgumentException(
                    $"Expected every dimension of a shape to be a positive integer or None. Received: shape={Format(_dims)} (dimension {i} is {_dims[i]}).",
                    nameof(dims));
    }

    /// <summary>The number of per-sample dimensions (the batch dimension is not counted).</summary>
    public int Rank => _dims.Length;

    /// <summary>The number of per-sample dimensions.</summary>
    public int Count => _dims.Length;

    /// <summary>The dimension at <paramref name="index"/> (<c>null</c> when unknown); negative indices count from the end, as in Python.</summary>
    public int? this[int index] => _dims[Axis(index)];

    /// <summary>Whether every dimension is known (Keras's <c>is_fully_defined</c>, batch excluded).</summary>
    public bool IsFullyKnown => _dims.All(d => d.HasValue);

    /// <summary>Whether the dimension at <paramref name="index"/> is known.</summary>
    public bool IsKnown(int index) => _dims[Axis(index)].HasValue;

    /// <summary>
    /// The dimension at <paramref name="index"/>, which must be known; for code that has already checked
    /// (<see cref="IsKnown"/>, <see cref="IsFullyKnown"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The dimension is unknown.</exception>
    public int Known(int index) => _dims[Axis(index)] ??
        throw new InvalidOperationException($"Dimension {index} of the shape {this} is unknown (None); a known size is needed here.");

    private int Axis(int index) => index < 0 ? _dims.Length + index : index;

    /// <summary>The number of elements in one sample (the product of the dimensions); <c>null</c> when a dimension is unknown.</summary>
    /// <exception cref="OverflowException">The product exceeds <see cref="long.MaxValue"/> (see <see cref="ElementCount"/> for the exact count).</exception>
    public long? Size
    {
        get
        {
            if (!IsFullyKnown) return null;
            long n = 1;
            foreach (var d in _dims)
                if (long.MaxValue / d!.Value < n)
                    throw new OverflowException(
                        $"The shape {ToSampleString()} has {ElementCount:N0} elements per sample, more than a 64-bit count holds ({long.MaxValue:N0}).");
                else n *= d.Value;
            return n;
        }
    }

    /// <summary>The exact number of elements in one sample, however large; <c>null</c> when a dimension is unknown.</summary>
    public System.Numerics.BigInteger? ElementCount
    {
        get
        {
            if (!IsFullyKnown) return null;
            System.Numerics.BigInteger n = 1;
            foreach (var d in _dims) n *= d!.Value;
            return n;
        }
    }

    /// <summary>The dimensions as an array (a copy; <c>null</c> for unknown ones).</summary>
    public int?[] ToArray() => _dims.ToArray();

    /// <summary>The dimensions of a fully known shape as an array of <c>int</c>s.</summary>
    /// <exception cref="InvalidOperationException">A dimension is unknown.</exception>
    public int[] ToKnownArray() => IsFullyKnown ? _dims.Select(d => d!.Value).ToArray()
        : throw new InvalidOperationException($"The shape {this} has unknown (None) dimensions; a fully known shape is needed here.");

    /// <summary>
    /// The dimensions with the batch dimension in front, as <c>long</c>s for tensor APIs; an unknown dimension becomes
    /// <paramref name="unknown"/> (−1 by default: what <c>reshape</c> infers).
    /// </summary>
    public long[] WithBatch(long batch, long unknown = -1) => [batch, .. _dims.Select(d => d is { } v ? (long)v : unknown)];

    /// <summary>A new shape with dimension <paramref name="index"/> replaced (<c>null</c>: unknown).</summary>
    public Shape With(int index, int? value) => new(_dims.SetItem(Axis(index), value));

    /// <summary>
    /// Whether a concrete per-sample shape (a tensor's, batch excluded) fits this one: the same rank, and every known
    /// dimension equal.
    /// </summary>
    public bool Accepts(IReadOnlyList<long> actual)
    {
        if (actual.Count != _dims.Length) return false;
        for (var i = 0; i < _dims.Length; i++)
            if (_dims[i] is { } d && d != actual[i]) return false;
        return true;
    }

    /// <summary>
    /// Whether two shapes may describe the same tensors (Keras's compatibility): equal rank, and equal dimensions where
    /// both are known.
    /// </summary>
    public bool IsCompatibleWith(Shape other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Rank != Rank) return false;
        for (var i = 0; i < Rank; i++)
            if (_dims[i] is { } a && other._dims[i] is { } b && a != b) return false;
        return true;
    }

    /// <inheritdoc />
    public IEnumerator<int?> GetEnumerator() => ((IEnumerable<int?>)_dims).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(Shape? other) => other is not null && _dims.SequenceEqual(other._dims);
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Shape);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in _dims) h.Add(d);
        return h.ToHashCode();
    }
    /// <summary>Value equality.</summary>
    public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);
    /// <summary>Value inequality.</summary>
    public static bool operator !=(Shape? a, Shape? b) => !(a == b);

    /// <summary>The Keras form with the unknown batch dimension: <c>(None, 28, 28, 1)</c>, <c>(None, None, None, 3)</c>.</summary>
    public override string ToString() => _dims.Length == 0 ? "(None,)" : $"(None, {Excerpt.Values(_dims, Dim)})";

    /// <summary>The per-sample dimensions alone, Python-tuple style: <c>(28, 28, 1)</c>, <c>(None, 8)</c>.</summary>
    public string ToSampleString() => Format(_dims);

    /// <summary>One dimension as Keras prints it: the number, or <c>None</c>.</summary>
    public static string Dim(int? d) => d is { } v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "None";

    private static string Format(ImmutableArray<int?> dims) =>
        dims.Length == 1 ? $"({Dim(dims[0])},)" : $"({Excerpt.Values(dims, Dim)})";

    /// <summary>Shape from one dimension.</summary>
    public static implicit operator Shape(int d) => new(d);
    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape((int, int) t) => new(t.Item1, t.Item2);
    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape((int, int, int) t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape((int, int, int, int) t) => new(t.Item1, t.Item2, t.Item3, t.Item4);
    /// <summary>Shape from a tuple of dimensions, <c>null</c> for unknown ones.</summary>
    public static implicit operator Shape((int?, int?) t) => new(t.Item1, t.Item2);
    /// <summary>Shape from a tuple of dimensions, <c>null</c> for unknown ones.</summary>
    public static implicit operator Shape((int?, int?, int?) t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>Shape from a tuple of dimensions, <c>null</c> for unknown ones.</summary>
    public static implicit operator Shape((int?, int?, int?, int?) t) => new(t.Item1, t.Item2, t.Item3, t.Item4);
    /// <summary>Shape from an F# tuple.</summary>
    public static implicit operator Shape(Tuple<int, int> t) => new(t.Item1, t.Item2);
    /// <summary>Shape from an F# tuple.</summary>
    public static implicit operator Shape(Tuple<int, int, int> t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>Shape from an array of dimensions.</summary>
    public static implicit operator Shape(int[] dims) => new(dims);
    /// <summary>Shape from an array of dimensions, <c>null</c> for unknown ones.</summary>
    public static implicit operator Shape(int?[] dims) => new(dims);
}
