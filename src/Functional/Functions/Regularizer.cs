namespace Functional;

/// <summary>
/// A Keras weight (or activity) regularizer: a penalty added to the training loss. Pure description; the tensor form
/// lives in Functional.Torch. Keras's string identifiers convert implicitly (<c>"l2"</c>).
/// </summary>
public abstract record Regularizer
{
    /// <summary>The Keras class name.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>The penalty for the given values, computed as Keras does (a reference for tests and small weights).</summary>
    public abstract double Penalty(IEnumerable<double> values);

    /// <summary>Keras's identifiers: <c>l1</c>, <c>l2</c>, <c>l1_l2</c> (with Keras's default factors).</summary>
    public static implicit operator Regularizer(string name) => name.Trim().ToLowerInvariant() switch
    {
        "l1" => new L1(),
        "l2" => new L2(),
        "l1_l2" or "l1l2" => new L1L2(0.01, 0.01),
        _ => throw new ArgumentException($"Could not interpret regularizer identifier: '{name}'. Known: 'l1', 'l2', 'l1_l2'.", nameof(name)),
    };

    private protected static double Check(double factor, string argument) =>
        double.IsFinite(factor) && factor >= 0
            ? factor
            : throw new ArgumentException($"Expected argument '{argument}' to be a non-negative finite number. Received: {argument}={factor}.", argument);
}

/// <summary>L1 and L2 together: <c>l1·Σ|x| + l2·Σx²</c> (Keras <c>L1L2</c>, defaults 0 and 0).</summary>
public sealed record L1L2 : Regularizer
{
    /// <summary>Creates the regularizer.</summary>
    public L1L2(double l1 = 0.0, double l2 = 0.0) { L1Factor = l1; L2Factor = l2; }
    /// <summary>The L1 factor.</summary>
    public double L1Factor { get; init => field = Check(value, "l1"); }
    /// <summary>The L2 factor.</summary>
    public double L2Factor { get; init => field = Check(value, "l2"); }
    /// <inheritdoc />
    public override double Penalty(IEnumerable<double> values) => values.Sum(v => L1Factor * Math.Abs(v) + L2Factor * v * v);
}

/// <summary><c>l1·Σ|x|</c> (Keras <c>L1</c>, default 0.01).</summary>
public sealed record L1 : Regularizer
{
    /// <summary>Creates the regularizer.</summary>
    public L1(double l1 = 0.01) => Factor = l1;
    /// <summary>The factor.</summary>
    public double Factor { get; init => field = Check(value, "l1"); }
    /// <inheritdoc />
    public override double Penalty(IEnumerable<double> values) => Factor * values.Sum(Math.Abs);
}

/// <summary><c>l2·Σx²</c> (Keras <c>L2</c>, default 0.01). Note: no ½ factor, as in Keras.</summary>
public sealed record L2 : Regularizer
{
    /// <summary>Creates the regularizer.</summary>
    public L2(double l2 = 0.01) => Factor = l2;
    /// <summary>The factor.</summary>
    public double Factor { get; init => field = Check(value, "l2"); }
    /// <inheritdoc />
    public override double Penalty(IEnumerable<double> values) => Factor * values.Sum(v => v * v);
}
