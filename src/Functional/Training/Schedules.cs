using Functional.Shapes;
using Functional.Functions;
using System.Collections.Immutable;
using System.Globalization;

namespace Functional.Training;

/// <summary>
/// How a loss turns per-sample values into one number (Keras's <c>reduction</c> argument). Strings convert implicitly;
/// the default is <c>sum_over_batch_size</c>, Keras's default.
/// </summary>
public enum ReductionKind
{
    /// <summary>Sum, divided by the number of values (Keras's default, <c>sum_over_batch_size</c>).</summary>
    SumOverBatchSize,
    /// <summary>The plain sum.</summary>
    Sum,
    /// <summary>Same as <see cref="SumOverBatchSize"/> (Keras's <c>mean</c>).</summary>
    Mean,
    /// <summary>Sum divided by the sum of the sample weights (by the count when there are none).</summary>
    MeanWithSampleWeight,
    /// <summary>No reduction: one value per sample (Keras's <c>none</c> / <c>None</c>).</summary>
    None,
}

/// <summary>Keras's <c>reduction</c> argument; <c>default</c> is <c>sum_over_batch_size</c>.</summary>
public readonly record struct Reduction(ReductionKind Kind)
{
    /// <summary>Parses Keras's spellings (<c>sum_over_batch_size</c>, <c>sum</c>, <c>mean</c>, <c>mean_with_sample_weight</c>, <c>none</c>).</summary>
    public static Reduction Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "sum_over_batch_size" or "auto" => new(ReductionKind.SumOverBatchSize),
        "sum" => new(ReductionKind.Sum),
        "mean" => new(ReductionKind.Mean),
        "mean_with_sample_weight" => new(ReductionKind.MeanWithSampleWeight),
        "none" or null => new(ReductionKind.None),
        _ => throw new ArgumentException(
            "Invalid value for argument 'reduction'. Expected one of 'sum_over_batch_size', 'sum', 'mean', " +
            $"'mean_with_sample_weight', 'none'. Received: reduction='{value}'.", "reduction"),
    };

    /// <summary>Converts Keras's string form.</summary>
    public static implicit operator Reduction(string? value) => OptionConversion.Convert(value, Parse);

    /// <summary>Keras's spelling.</summary>
    public override string ToString() => Kind switch
    {
        ReductionKind.SumOverBatchSize => "sum_over_batch_size",
        ReductionKind.Sum => "sum",
        ReductionKind.Mean => "mean",
        ReductionKind.MeanWithSampleWeight => "mean_with_sample_weight",
        _ => "none",
    };
}

/// <summary>
/// A learning rate that depends on the optimizer's step count (Keras <c>LearningRateSchedule</c>). Pure: the optimizer
/// asks for <see cref="At"/> with its iteration count before every update.
/// </summary>
public abstract record LearningRateSchedule
{
    /// <summary>The learning rate at optimizer step <paramref name="step"/> (0 for the first update).</summary>
    public abstract double At(long step);

    /// <summary>The Keras class name.</summary>
    public virtual string ClassName => GetType().Name;

    private protected static double Positive(double value, string argument, string owner) =>
        double.IsFinite(value) && value > 0 ? value
            : throw new ArgumentException($"{owner}: expected argument '{argument}' to be a strictly positive number. Received: {argument}={value.ToString(CultureInfo.InvariantCulture)}.", argument);
}

/// <summary>
/// <c>initialLearningRate · decayRate^(step / decaySteps)</c>, the exponent floored when <see cref="Staircase"/>
/// (Keras <c>ExponentialDecay</c>).
/// </summary>
public sealed record ExponentialDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule with Keras's arguments.</summary>
    public ExponentialDecay(double initialLearningRate, long decaySteps, double decayRate, bool staircase = false)
    {
        InitialLearningRate = initialLearningRate;
        DecaySteps = decaySteps > 0 ? decaySteps
            : throw new ArgumentException($"ExponentialDecay: argument 'decaySteps' must be > 0. Received: decaySteps={decaySteps}.", nameof(decaySteps));
        DecayRate = decayRate;
        Staircase = staircase;
    }

    /// <summary>The rate at step 0.</summary>
    public double InitialLearningRate { get; }
    /// <summary>Steps per decay period.</summary>
    public long DecaySteps { get; }
    /// <summary>Factor per period.</summary>
    public double DecayRate { get; }
    /// <summary>Whether the decay is applied in discrete periods.</summary>
    public bool Staircase { get; }

    /// <inheritdoc />
    public override double At(long step)
    {
        var p = (double)step / DecaySteps;
        if (Staircase) p = Math.Floor(p);
        return InitialLearningRate * Math.Pow(DecayRate, p);
    }
}

/// <summary>
/// Piecewise constant: <c>values[0]</c> while <c>step ≤ boundaries[0]</c>, <c>values[1]</c> while
/// <c>boundaries[0] &lt; step ≤ boundaries[1]</c>, …, the last value after the last boundary (Keras <c>PiecewiseConstantDecay</c>).
/// </summary>
public sealed record PiecewiseConstantDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule; there must be one more value than boundaries, and boundaries must increase.</summary>
    public PiecewiseConstantDecay(IEnumerable<long> boundaries, IEnumerable<double> values)
    {
        Boundaries = boundaries.ToImmutableArray();
        Values = values.ToImmutableArray();
        if (Values.Length != Boundaries.Length + 1)
            throw new ArgumentException(
                "The length of boundaries should be 1 less than the length of values. " +
                $"Received: boundaries=[{string.Join(", ", Boundaries)}] of length {Boundaries.Length}, and values=[{string.Join(", ", Values)}] of length {Values.Length}.",
                nameof(values));
        for (var i = 1; i < Boundaries.Length; i++)
            if (Boundaries[i] <= Boundaries[i - 1])
                throw new ArgumentException($"PiecewiseConstantDecay: boundaries must be strictly increasing. Received: boundaries=[{string.Join(", ", Boundaries)}].", nameof(boundaries));
    }

    /// <summary>The step boundaries.</summary>
    public ImmutableArray<long> Boundaries { get; }
    /// <summary>The rate in each interval.</summary>
    public ImmutableArray<double> Values { get; }

    /// <inheritdoc />
    public override double At(long step)
    {
        for (var i = 0; i < Boundaries.Length; i++)
            if (step <= Boundaries[i]) return Values[i];
        return Values[^1];
    }

    /// <summary>Value equality over the contents.</summary>
    public bool Equals(PiecewiseConstantDecay? other) =>
        other is not null && Boundaries.SequenceEqual(other.Boundaries) && Values.SequenceEqual(other.Values);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Boundaries.Length, Values.Length);
}

/// <summary>
/// Cosine decay with optional linear warm-up (Keras <c>CosineDecay</c>): after warm-up,
/// <c>from · ((1 − alpha) · ½(1 + cos(π · min(s, decaySteps) / decaySteps)) + alpha)</c>, where <c>from</c> is
/// <see cref="WarmupTarget"/> when warming up, else the initial rate; during the first <c>warmupSteps</c> steps the
/// rate rises linearly from the initial rate to the warm-up target.
/// </summary>
public sealed record CosineDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule with Keras's arguments and defaults.</summary>
    public CosineDecay(double initialLearningRate, long decaySteps, double alpha = 0.0, double? warmupTarget = null, long warmupSteps = 0)
    {
        InitialLearningRate = initialLearningRate;
        DecaySteps = decaySteps > 0 ? decaySteps
            : throw new ArgumentException($"CosineDecay: argument 'decaySteps' must be > 0. Received: decaySteps={decaySteps}.", nameof(decaySteps));
        Alpha = alpha;
        WarmupTarget = warmupTarget;
        WarmupSteps = warmupSteps >= 0 ? warmupSteps
            : throw new ArgumentException($"CosineDecay: argument 'warmupSteps' must be >= 0. Received: warmupSteps={warmupSteps}.", nameof(warmupSteps));
    }

    /// <summary>The rate at step 0.</summary>
    public double InitialLearningRate { get; }
    /// <summary>Steps over which to decay.</summary>
    public long DecaySteps { get; }
    /// <summary>The floor, as a fraction of the starting rate.</summary>
    public double Alpha { get; }
    /// <summary>The rate reached at the end of warm-up (none: no warm-up).</summary>
    public double? WarmupTarget { get; }
    /// <summary>Warm-up length in steps.</summary>
    public long WarmupSteps { get; }

    /// <inheritdoc />
    public override double At(long step)
    {
        double Decay(double s, double from)
        {
            var cosine = 0.5 * (1.0 + Math.Cos(Math.PI * s / DecaySteps));
            return from * ((1 - Alpha) * cosine + Alpha);
        }
        if (WarmupTarget is not { } target)
            return Decay(Math.Min(step, DecaySteps), InitialLearningRate);
        var s = (double)Math.Min(step, DecaySteps + WarmupSteps);
        return s < WarmupSteps
            ? (target - InitialLearningRate) * (s / WarmupSteps) + InitialLearningRate
            : Decay(s - WarmupSteps, target);
    }
}

/// <summary>A schedule given by a function of the step (for schedules Keras users write themselves).</summary>
public sealed record LambdaSchedule(Func<long, double> Function) : LearningRateSchedule
{
    /// <inheritdoc />
    public override double At(long step) => Function(step);
}
