using System.Collections;
using System.Collections.Immutable;

namespace Functional.Shapes;

/// <summary>
/// Keras's "an integer or a tuple of N integers" argument (kernel_size, strides, pool_size, dilation_rate, ...).
/// A single integer stands for the same value in every spatial dimension; layers expand it with <see cref="Expand"/>.
/// The default (empty) value means "not given": layers then use Keras's default for the argument.
/// </summary>
/// <remarks>Compares by value, so layer records that hold one compare by value too.</remarks>
public readonly struct IntTuple : IEquatable<IntTuple>, IReadOnlyList<int>
{
    private readonly ImmutableArray<int> _values;
    private readonly bool _isInteger;

    /// <summary>Creates a tuple from its values.</summary>
    public IntTuple(params int[] values) => _values = values.ToImmutableArray();

    private IntTuple(int value, bool isInteger)
    {
        _values = [value];
        _isInteger = isInteger;
    }

    /// <summary>A plain integer, Keras's <c>3</c> (as opposed to the 1-tuple <c>(3,)</c> that <c>new IntTuple(3)</c> makes).</summary>
    public static IntTuple Integer(int value) => new(value, isInteger: true);

    /// <summary>
    /// True when the value was given as a plain integer (the implicit conversion from <see cref="int"/>, or
    /// <see cref="Integer"/>) rather than as a tuple. Only the few arguments where Keras tells <c>1</c> from <c>(1,)</c> look at
    /// it (Cropping1D's <c>cropping</c>, ZeroPadding1D's <c>padding</c>); it does not take part in equality.
    /// </summary>
    public bool IsInteger => _isInteger;

    /// <summary>The number of values given (1 for a plain integer).</summary>
    public int Count => _values.IsDefault ? 0 : _values.Length;

    /// <summary>The value at <paramref name="index"/>.</summary>
    public int this[int index] => _values[index];

    /// <summary>
    /// The tuple as exactly <paramref name="rank"/> values: a single integer is repeated, a tuple of <paramref name="rank"/> values is kept.
    /// Any other length is rejected naming the layer and argument.
    /// </summary>
    public IntTuple Expand(int rank, string layer, string argument)
    {
        if (Count == 1 && rank != 1) return new IntTuple(Enumerable.Repeat(_values[0], rank).ToArray());
        if (Count == rank) return this;
        throw new ArgumentException(
            $"{layer}: expected argument '{argument}' to be an integer or a tuple of {rank} integers. Received: {argument}={this}.",
            argument);
    }

    /// <summary>Throws unless every value is at least <paramref name="min"/>.</summary>
    public IntTuple RequireAtLeast(int min, string layer, string argument)
    {
        foreach (var v in this)
            if (v < min)
                throw new ArgumentException(
                    min == 1
                        ? $"{layer}: expected argument '{argument}' to hold strictly positive integers. Received: {argument}={this}."
                        : $"{layer}: expected argument '{argument}' to hold integers >= {min}. Received: {argument}={this}.",
                    argument);
        return this;
    }

    /// <inheritdoc />
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)(_values.IsDefault ? ImmutableArray<int>.Empty : _values)).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(IntTuple other) => this.SequenceEqual(other);
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is IntTuple t && Equals(t);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var v in this) h.Add(v);
        return h.ToHashCode();
    }
    /// <summary>Value equality.</summary>
    public static bool operator ==(IntTuple a, IntTuple b) => a.Equals(b);
    /// <summary>Value inequality.</summary>
    public static bool operator !=(IntTuple a, IntTuple b) => !a.Equals(b);

    /// <summary>Python form: <c>3</c> for a single integer, <c>(3, 3)</c> for a tuple.</summary>
    public override string ToString() => Count switch
    {
        0 => "()",
        1 => _values[0].ToString(),
        _ => $"({Excerpt.Values(_values)})",
    };

    /// <summary>A single integer, used for every dimension.</summary>
    public static implicit operator IntTuple(int v) => Integer(v);
    /// <summary>A pair.</summary>
    public static implicit operator IntTuple((int, int) t) => new(t.Item1, t.Item2);
    /// <summary>A triple.</summary>
    public static implicit operator IntTuple((int, int, int) t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>An F# pair.</summary>
    public static implicit operator IntTuple(Tuple<int, int> t) => new(t.Item1, t.Item2);
    /// <summary>An F# triple.</summary>
    public static implicit operator IntTuple(Tuple<int, int, int> t) => new(t.Item1, t.Item2, t.Item3);
    /// <summary>Any number of values.</summary>
    public static implicit operator IntTuple(int[] values) => new(values);
}
