using System.Collections.Immutable;

namespace Functional.Shapes;

/// <summary>
/// Keras's "int, or tuple of N ints, or tuple of N tuples of 2 ints" argument (the <c>cropping</c> of Cropping2D/3D and the
/// <c>padding</c> of ZeroPadding2D/3D): one amount for both sides of every spatial axis, one symmetric amount per axis, or
/// an explicit <c>(before, after)</c> pair per axis — <c>((top, bottom), (left, right))</c> in 2-D.
/// Layers normalise it with <see cref="Expand"/> to the pair form, so equal amounts compare equal however they were written.
/// </summary>
/// <remarks>The default value means "not given": layers then use Keras's default.</remarks>
public readonly struct SidePairs : IEquatable<SidePairs>
{
    private enum Form { None, Int, Ints, Pairs }

    private readonly Form _form;
    private readonly ImmutableArray<int> _values;   // Int: [n]; Ints: [a, b, …]; Pairs: [before0, after0, before1, after1, …]

    private SidePairs(Form form, ImmutableArray<int> values)
    {
        _form = form;
        _values = values;
    }

    /// <summary>The same amount on both sides of every axis.</summary>
    public SidePairs(int amount) : this(Form.Int, [amount]) { }

    /// <summary>Explicit <c>(before, after)</c> amounts, one pair per spatial axis.</summary>
    public static SidePairs FromPairs(params (int Before, int After)[] pairs) =>
        new(Form.Pairs, pairs.SelectMany(p => new[] { p.Before, p.After }).ToImmutableArray());

    /// <summary>One symmetric amount per spatial axis.</summary>
    public static SidePairs Symmetric(params int[] amounts) => new(Form.Ints, amounts.ToImmutableArray());

    /// <summary>False for the default value (not given).</summary>
    public bool IsGiven => _form != Form.None;

    /// <summary>True once normalised to one <c>(before, after)</c> pair per axis.</summary>
    public bool IsPairs => _form == Form.Pairs;

    /// <summary>The number of axes the value describes: pairs or symmetric amounts (1 for a single integer, 0 when not given).</summary>
    public int Count => _form switch { Form.None => 0, Form.Pairs => _values.Length / 2, _ => _values.Length };

    /// <summary>The <c>(before, after)</c> amounts of axis <paramref name="axis"/>; the value must be in pair form (see <see cref="Expand"/>).</summary>
    public (int Before, int After) this[int axis] => _form == Form.Pairs
        ? (_values[2 * axis], _values[2 * axis + 1])
        : throw new InvalidOperationException($"Expand {this} to (before, after) pairs before indexing it.");

    /// <summary>
    /// The value as exactly <paramref name="rank"/> <c>(before, after)</c> pairs: an integer n becomes (n, n) on every axis, a
    /// tuple of <paramref name="rank"/> integers becomes one symmetric pair per axis, <paramref name="rank"/> pairs are kept.
    /// Anything else is rejected naming the layer, the argument and the value.
    /// </summary>
    public SidePairs Expand(int rank, string layer, string argument)
    {
        switch (_form)
        {
            case Form.Int:
                return FromPairs(Enumerable.Repeat((_values[0], _values[0]), rank).ToArray());
            case Form.Ints when _values.Length == rank:
                return FromPairs(_values.Select(v => (v, v)).ToArray());
            case Form.Pairs when _values.Length == 2 * rank:
                return this;
        }
        throw new ArgumentException(
            $"{layer}: expected argument '{argument}' to be an integer, a tuple of {rank} integers, or a tuple of {rank} " +
            $"(before, after) pairs. Received: {argument}={this}.", argument);
    }

    /// <summary>Throws unless every amount is at least zero, with Keras's "cannot be negative" message.</summary>
    public SidePairs RequireNonNegative(string layer, string argument)
    {
        if (!_values.IsDefault && _values.Any(v => v < 0))
            throw new ArgumentException($"{layer}: `{argument}` cannot be negative. Received: {argument}={this}.", argument);
        return this;
    }

    /// <inheritdoc />
    public bool Equals(SidePairs other) =>
        _form == other._form && (_values.IsDefault ? other._values.IsDefault : !other._values.IsDefault && _values.SequenceEqual(other._values));
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SidePairs p && Equals(p);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(_form);
        if (!_values.IsDefault) foreach (var v in _values) h.Add(v);
        return h.ToHashCode();
    }
    /// <summary>Value equality.</summary>
    public static bool operator ==(SidePairs a, SidePairs b) => a.Equals(b);
    /// <summary>Value inequality.</summary>
    public static bool operator !=(SidePairs a, SidePairs b) => !a.Equals(b);

    /// <summary>Python form: <c>1</c>, <c>(1, 2)</c> or <c>((1, 1), (2, 2))</c>.</summary>
    public override string ToString()
    {
        var values = _values;
        return _form switch
        {
            Form.None => "()",
            Form.Int => values[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            Form.Ints => $"({Excerpt.Values(values)})",
            _ => $"({Excerpt.Values(Enumerable.Range(0, values.Length / 2).ToList(), i => $"({values[2 * i]}, {values[2 * i + 1]})")})",
        };
    }

    /// <summary>The same amount on both sides of every axis.</summary>
    public static implicit operator SidePairs(int amount) => new(amount);
    /// <summary>Symmetric amounts for two axes: <c>(height, width)</c>.</summary>
    public static implicit operator SidePairs((int, int) t) => Symmetric(t.Item1, t.Item2);
    /// <summary>Symmetric amounts for three axes.</summary>
    public static implicit operator SidePairs((int, int, int) t) => Symmetric(t.Item1, t.Item2, t.Item3);
    /// <summary>Pairs for two axes: <c>((top, bottom), (left, right))</c>.</summary>
    public static implicit operator SidePairs(((int, int), (int, int)) t) => FromPairs(t.Item1, t.Item2);
    /// <summary>Pairs for three axes.</summary>
    public static implicit operator SidePairs(((int, int), (int, int), (int, int)) t) => FromPairs(t.Item1, t.Item2, t.Item3);
    /// <summary>F# symmetric pair.</summary>
    public static implicit operator SidePairs(Tuple<int, int> t) => Symmetric(t.Item1, t.Item2);
    /// <summary>F# symmetric triple.</summary>
    public static implicit operator SidePairs(Tuple<int, int, int> t) => Symmetric(t.Item1, t.Item2, t.Item3);
    /// <summary>F# pairs for two axes.</summary>
    public static implicit operator SidePairs(Tuple<Tuple<int, int>, Tuple<int, int>> t) =>
        FromPairs((t.Item1.Item1, t.Item1.Item2), (t.Item2.Item1, t.Item2.Item2));
    /// <summary>F# pairs for three axes.</summary>
    public static implicit operator SidePairs(Tuple<Tuple<int, int>, Tuple<int, int>, Tuple<int, int>> t) =>
        FromPairs((t.Item1.Item1, t.Item1.Item2), (t.Item2.Item1, t.Item2.Item2), (t.Item3.Item1, t.Item3.Item2));
}
