using Functional.Shapes;
using System.Globalization;

namespace Functional.Functions;

/// <summary>
/// A Keras weight (or activity) regularizer: a penalty added to the training loss. Pure description with a reference
/// <see cref="Penalty(IEnumerable{double})"/>; the tensor form lives in Functional.Torch. Keras's string identifiers
/// convert implicitly (<c>"l2"</c>).
/// </summary>
/// <remarks>
/// Keras adds the penalty of every trainable weight's regularizer to the loss (a frozen layer's weights add nothing), and
/// each layer's activity regularizer on its output divided by the batch size.
/// </remarks>
public abstract record Regularizer
{
    /// <summary>The Keras class name.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>The penalty for the given values, computed as Keras does (a reference for tests and small weights).</summary>
    public abstract double Penalty(IEnumerable<double> values);

    /// <summary>
    /// The penalty for a weight given as its values in row-major Keras layout and its Keras-layout shape. Regularizers that
    /// depend on the shape (<see cref="OrthogonalRegularizer"/>) override this; the others ignore the shape.
    /// </summary>
    public virtual double Penalty(IReadOnlyList<double> values, IReadOnlyList<int> shape) => Penalty(values);

    /// <summary>Checks that the regularizer can take a weight of this Keras-layout shape (most take any).</summary>
    /// <exception cref="ArgumentException">The shape does not suit the regularizer.</exception>
    public virtual void CheckShape(IReadOnlyList<int> shape) => ArgumentNullException.ThrowIfNull(shape);

    /// <summary>
    /// Keras's identifiers, as <c>keras.regularizers.get</c>: <c>l1</c>/<c>L1</c> (0.01), <c>l2</c>/<c>L2</c> (0.01),
    /// <c>l1l2</c>/<c>L1L2</c> (Keras 3's class defaults: 0 and 0), <c>orthogonal_regularizer</c>/<c>OrthogonalRegularizer</c>
    /// (0.01, rows); and <c>l1_l2</c>, which Keras's L1L2 documentation gives factors 0.01 and 0.01.
    /// </summary>
    public static implicit operator Regularizer(string name) => OptionConversion.Convert(name, n => Get(n!));

    /// <summary>The regularizer a Keras identifier names (see the implicit conversion); case and surrounding spaces are ignored.</summary>
    /// <exception cref="ArgumentException">The identifier is unknown; the message names it.</exception>
    public static Regularizer Get(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "l1" => new L1(),
        "l2" => new L2(),
        "l1l2" => new L1L2(),
        "l1_l2" => new L1L2(0.01, 0.01),
        "orthogonalregularizer" or "orthogonal_regularizer" => new OrthogonalRegularizer(),
        _ => throw new ArgumentException(
            $"Could not interpret regularizer identifier: {Padding.Quote(name)}. Known: 'l1', 'l2', 'l1l2', 'l1_l2', 'orthogonal_regularizer' " +
            "(or the class names 'L1', 'L2', 'L1L2', 'OrthogonalRegularizer').", "regularizer"),
    };

    /// <summary>Keras's <c>validate_float_arg</c>: a non-negative finite number.</summary>
    private protected double Check(double factor, string argument) =>
        double.IsFinite(factor) && factor >= 0
            ? factor
            : throw new ArgumentException(
                $"{ClassName}: Invalid value for argument {argument}: expected a non-negative float. " +
                $"Received: {argument}={factor.ToString("R", CultureInfo.InvariantCulture)}.", argument);
}

/// <summary>L1 and L2 together: <c>l1·Σ|x| + l2·Σx²</c> (Keras <c>L1L2</c>, defaults 0 and 0).</summary>
public sealed record L1L2 : Regularizer
{
    /// <summary>Creates the regularizer; Keras 3's defaults are 0 and 0.</summary>
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

/// <summary>
/// Keras's <c>OrthogonalRegularizer</c> (defaults factor 0.01, mode <c>rows</c>): for a rank-2 weight, L2-normalise its
/// rows (or columns), take the Gram matrix, and penalise factor · ½ · Σ_{i≠j} |gᵢⱼ| / (n(n−1)/2), n the number of rows
/// (columns). Normalisation is Keras's <c>x · min(1/‖x‖, 1/ε)</c> with ε = 1e-7.
/// </summary>
public sealed record OrthogonalRegularizer : Regularizer
{
    /// <summary>Keras's <c>backend.epsilon()</c>.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>Creates the regularizer; Keras's defaults are factor 0.01 and mode <c>rows</c>.</summary>
    public OrthogonalRegularizer(double factor = 0.01, string mode = "rows")
    {
        Factor = factor;
        Mode = mode;
    }

    /// <summary>The regularization factor.</summary>
    public double Factor { get; init => field = Check(value, "factor"); }

    /// <summary><c>rows</c> or <c>columns</c>: which vectors are pushed towards orthogonality.</summary>
    public string Mode
    {
        get;
        init => field = value is "rows" or "columns"
            ? value
            : throw new ArgumentException(
                $"Invalid value for argument `mode`. Expected one of {{\"rows\", \"columns\"}}. Received: mode={value ?? "None"}", "mode");
    }

    /// <inheritdoc />
    public override void CheckShape(IReadOnlyList<int> shape)
    {
        base.CheckShape(shape);
        if (shape.Count != 2)
            throw new ArgumentException(
                $"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={Initializer.FormatShape(shape)}", nameof(shape));
    }

    /// <summary>The penalty needs the weight's shape; use <see cref="Penalty(IReadOnlyList{double}, IReadOnlyList{int})"/>.</summary>
    /// <exception cref="ArgumentException">Always: a flat list of values has no rows or columns.</exception>
    public override double Penalty(IEnumerable<double> values) =>
        throw new ArgumentException(
            "OrthogonalRegularizer needs the weight's shape (its rows and columns): call Penalty(values, shape).", nameof(values));

    /// <inheritdoc />
    public override double Penalty(IReadOnlyList<double> values, IReadOnlyList<int> shape)
    {
        CheckShape(shape);
        int rows = shape[0], cols = shape[1];
        if (values.Count != rows * cols)
            throw new ArgumentException($"OrthogonalRegularizer: {values.Count} values do not fill shape {Initializer.FormatShape(shape)}.", nameof(values));
        var byRows = Mode == "rows";
        var count = byRows ? rows : cols;      // the vectors compared
        var length = byRows ? cols : rows;     // each vector's length
        double At(int vector, int i) => byRows ? values[vector * cols + i] : values[i * cols + vector];
        var unit = new double[count, length];
        for (var v = 0; v < count; v++)
        {
            double sq = 0;
            for (var i = 0; i < length; i++) sq += At(v, i) * At(v, i);
            var inv = Math.Min(1.0 / Math.Sqrt(sq), 1.0 / Epsilon);
            for (var i = 0; i < length; i++) unit[v, i] = At(v, i) * inv;
        }
        double total = 0;
        for (var a = 0; a < count; a++)
            for (var b = 0; b < count; b++)
            {
                if (a == b) continue;
                double dot = 0;
                for (var i = 0; i < length; i++) dot += unit[a, i] * unit[b, i];
                total += Math.Abs(dot);
            }
        var pairs = count * (count - 1.0) / 2.0;
        return Factor * 0.5 * total / pairs;
    }
}
