using System.Collections;
using System.Collections.Immutable;

namespace Functional;

/// <summary>The shape of one sample: every dimension except the batch dimension, which stays unknown (Keras's <c>None</c>).</summary>
/// <remarks>Shapes compare by value. <see cref="ToString"/> prints the Keras form with the batch dimension, e.g. <c>(None, 28, 28, 1)</c>.</remarks>
public sealed class Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    private readonly ImmutableArray<int> _dims;

    /// <summary>Creates a shape from its per-sample dimensions; each must be positive.</summary>
    /// <exception cref="ArgumentException">A dimension is zero or negative.</exception>
    public Shape(params int[] dims) : this((IEnumerable<int>)dims) { }

    /// <summary>Creates a shape from its per-sample dimensions; each must be positive.</summary>
    public Shape(IEnumerable<int> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        _dims = dims.ToImmutableArray();
        for (var i = 0; i < _dims.Length; i++)
            if (_dims[i] <= 0)
                throw new ArgumentException(
                    $"Expected every dimension of a shape to be a positive integer. Received: shape={Format(_dims)} (dimension {i} is {_dims[i]}).",
                    nameof(dims));
    }

    /// <summary>The number of per-sample dimensions (the batch dimension is not counted).</summary>
    public int Rank => _dims.Length;

    /// <summary>The number of per-sample dimensions.</summary>
    public int Count => _dims.Length;

    /// <summary>The dimension at <paramref name="index"/>; negative indices count from the end, as in Python.</summary>
    public int this[int index] => _dims[index < 0 ? _dims.Length + index : index];

    /// <summary>The number of elements in one sample (the product of the dimensions).</summary>
    /// <exception cref="OverflowException">The product exceeds <see cref="long.MaxValue"/> (see <see cref="ElementCount"/> for the exact count).</exception>
    public long Size
    {
        get
        {
            long n = 1;
            foreach (var d in _dims)
                if (long.MaxValue / d < n)
                    throw new OverflowException(
                        $"The shape {ToSampleString()} has {ElementCount:N0} elements per sample, more than a 64-bit count holds ({long.MaxValue:N0}).");
                else n *= d;
            return n;
        }
    }

    /// <summary>The exact number of elements in one sample, however large.</summary>
    public System.Numerics.BigInteger ElementCount
    {
        get
        {
            System.Numerics.BigInteger n = 1;
            foreach (var d in _dims) n *= d;
            return n;
        }
    }

    /// <summary>The dimensions as an array (a copy).</summary>
    public int[] ToArray() => _dims.ToArray();

    /// <summary>The dimensions with the batch dimension in front, as <c>long</c>s for tensor APIs.</summary>
    public long[] WithBatch(long batch) => [batch, .. _dims.Select(d => (long)d)];

    /// <summary>A new shape with dimension <paramref name="index"/> replaced.</summary>
    public Shape With(int index, int value)
    {
        var i = index < 0 ? _dims.Length + index : index;
        return new Shape(_dims.SetItem(i, value));
    }

    /// <inheritdoc />
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_dims).GetEnumerator();
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

    /// <summary>The Keras form with the unknown batch dimension: <c>(None, 28, 28, 1)</c>.</summary>
    public override string ToString() => _dims.Length == 0 ? "(None,)" : $"(None, {Models.Excerpt.Values(_dims)})";

    /// <summary>The per-sample dimensions alone, Python-tuple style: <c>(28, 28, 1)</c>.</summary>
    public string ToSampleString() => Format(_dims);

    private static string Format(ImmutableArray<int> dims) =>
        dims.Length == 1 ? $"({dims[0]},)" : $"({Models.Excerpt.Values(dims)})";

    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape(int d) => new(d);
    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape((int, int) t) => new(t.Item1, t.Item2);
    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape((int, int, int) t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>Shape from a tuple of dimensions.</summary>
    public static implicit operator Shape((int, int, int, int) t) => new(t.Item1, t.Item2, t.Item3, t.Item4);
    /// <summary>Shape from an F# tuple.</summary>
    public static implicit operator Shape(Tuple<int, int> t) => new(t.Item1, t.Item2);
    /// <summary>Shape from an F# tuple.</summary>
    public static implicit operator Shape(Tuple<int, int, int> t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>Shape from an array of dimensions.</summary>
    public static implicit operator Shape(int[] dims) => new(dims);
}
