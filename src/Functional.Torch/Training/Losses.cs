using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Training;

/// <summary>
/// A Keras loss: <see cref="Call"/> gives one value per sample (Keras's <c>call</c>, e.g. the mean over the last axis),
/// <see cref="Compute(Tensor, Tensor, Tensor?)"/> applies sample weights and the <see cref="Reduction"/> (Keras's <c>__call__</c>). Every loss is
/// usable by name — strings convert implicitly (<c>"mse"</c>, <c>"categorical_crossentropy"</c>, …) — or as a value.
/// </summary>
/// <remarks>Subclass and override <see cref="Call"/> for a custom loss, or use <see cref="FromFunction"/>. A loss keeps no state
/// (its settings are init-only), so one instance may serve many models and threads.</remarks>
public abstract class Loss
{
    /// <summary>Keras's <c>backend.epsilon()</c>, used for clipping.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>Creates the loss with its Keras name and reduction.</summary>
    protected Loss(string name, Reduction reduction)
    {
        Name = name;
        Reduction = reduction;
    }

    /// <summary>The loss's name (Keras's default: <c>mean_squared_error</c>, …).</summary>
    public string Name { get; init; }

    /// <summary>How per-sample values are reduced; <c>sum_over_batch_size</c> by default.</summary>
    public Reduction Reduction { get; init; }

    /// <summary>The Keras class name.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>Per-sample loss values (Keras's <c>call</c>). Targets are already cast to the prediction's floating type.</summary>
    public abstract Tensor Call(Tensor yTrue, Tensor yPred);

    /// <summary>Entries to leave out of the reduction (Keras's loss mask), or null for none.</summary>
    protected virtual Tensor? Mask(Tensor yTrue, Tensor yPred) => null;

    /// <summary>
    /// The loss as Keras's <c>loss(y_true, y_pred, sample_weight)</c>: per-sample values, times the sample weights,
    /// then reduced (by default summed and divided by the number of values).
    /// </summary>
    public Tensor Compute(Tensor yTrue, Tensor yPred, Tensor? sampleWeight = null) =>
        Compute(yTrue, yPred, sampleWeight, targetsChecked: false);

    /// <summary>
    /// <see cref="Compute(Tensor, Tensor, Tensor?)"/>; with <paramref name="targetsChecked"/> the caller has already run
    /// <see cref="CheckTargets"/> on these targets (compile/fit does, on the host copy, before moving them to the device).
    /// </summary>
    internal Tensor Compute(Tensor yTrue, Tensor yPred, Tensor? sampleWeight, bool targetsChecked)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        if (!yPred.is_floating_point()) yPred = yPred.to_type(ScalarType.Float32);
        if (!targetsChecked) CheckTargets(yTrue, yPred.shape);
        if (ComputeFused(yTrue, yPred, sampleWeight) is { } fused) return fused;
        var target = !CastsTargets || yTrue.dtype == yPred.dtype ? yTrue : yTrue.to_type(yPred.dtype);
        var values = CallChecked(target, yPred);
        var mask = Mask(target, yPred);
        return LossReduction.ReduceWeighted(values, sampleWeight, mask, Reduction);
    }

    /// <summary>
    /// Checks targets against predictions of shape <paramref name="predictionShape"/> (batch first) before anything is
    /// computed, throwing a clear <see cref="ArgumentException"/> for targets the loss cannot use (e.g. a class label out of
    /// range, which on a GPU would otherwise be a device-side assert). <c>fit</c> runs it on each batch's host copy, so the
    /// check costs no device round trip. The default accepts everything.
    /// </summary>
    public virtual void CheckTargets(Tensor yTrue, long[] predictionShape) { }

    /// <summary>Whether <see cref="Compute(Tensor, Tensor, Tensor?)"/> casts targets to the prediction's type first (Keras does; integer-label losses need not).</summary>
    protected virtual bool CastsTargets => true;

    /// <summary><see cref="Call"/> on targets that already passed <see cref="CheckTargets"/>; override to skip re-checking.</summary>
    protected virtual Tensor CallChecked(Tensor yTrue, Tensor yPred) => Call(yTrue, yPred);

    /// <summary>
    /// A reduced loss computed by fewer kernels for a common case (equal to the general path), or null to take the general
    /// path. Targets have passed <see cref="CheckTargets"/> and are not cast.
    /// </summary>
    protected virtual Tensor? ComputeFused(Tensor yTrue, Tensor yPred, Tensor? sampleWeight) => null;

    /// <summary>A loss from a per-sample function (Keras's <c>LossFunctionWrapper</c>); ranks are aligned first as Keras does.</summary>
    public static Loss FromFunction(string name, Func<Tensor, Tensor, Tensor> perSample, Reduction reduction = default) =>
        new FunctionLoss(name, perSample, reduction);

    /// <summary>Keras's identifiers: function names, class names and the legacy aliases (<c>mse</c>, <c>kld</c>, <c>logcosh</c>, <c>cosine_proximity</c>, …).</summary>
    public static implicit operator Loss(string identifier) => OptionConversion.Convert(identifier, i => Losses.Get(i!));

    /// <summary>Keras's <c>squeeze_or_expand_to_same_rank</c>: when ranks differ by one and the longer has a last axis of 1, align them.</summary>
    public static (Tensor, Tensor) SqueezeOrExpandToSameRank(Tensor x1, Tensor x2, bool expandRank1 = true)
    {
        var r1 = x1.dim();
        var r2 = x2.dim();
        if (r1 == r2) return (x1, x2);
        if (r1 == r2 + 1 && x1.shape[^1] == 1)
        {
            if (r2 == 1 && expandRank1) x2 = x2.unsqueeze(-1);
            else x1 = x1.squeeze(-1);
        }
        if (r2 == r1 + 1 && x2.shape[^1] == 1)
        {
            if (r1 == 1 && expandRank1) x1 = x1.unsqueeze(-1);
            else x2 = x2.squeeze(-1);
        }
        return (x1, x2);
    }

    /// <summary>Aligns ranks as Keras's wrapper does, then requires equal shapes (an elementwise loss), naming both shapes otherwise.</summary>
    protected (Tensor, Tensor) Align(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = SqueezeOrExpandToSameRank(yTrue, yPred);
        if (!t.shape.SequenceEqual(p.shape))
            throw new ArgumentException(
                $"{ClassName}: y_true and y_pred must have the same shape. Received: y_true.shape={ShapeText(yTrue)}, y_pred.shape={ShapeText(yPred)}.");
        return (t, p);
    }

    /// <summary>Integer class labels as Keras's sparse losses and metrics read them: (N, 1) squeezed to (N), as int64.</summary>
    internal static Tensor SparseLabels(Tensor yTrue, Tensor yPred)
    {
        var t = yTrue;
        if (t.dim() == yPred.dim() && t.shape[^1] == 1) t = t.squeeze(-1);
        return t.dtype == ScalarType.Int64 ? t : t.to_type(ScalarType.Int64);
    }

    internal static string ShapeText(Tensor t) => ShapeText(t.shape);

    internal static string ShapeText(ReadOnlySpan<long> shape) =>
        shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape.ToArray())})";

    private protected static double Probability(double value, string argument, string owner) =>
        value is >= 0 and <= 1 ? value
            : throw new ArgumentException($"{owner}: expected argument '{argument}' to be a float in [0, 1]. Received: {argument}={value.ToString(CultureInfo.InvariantCulture)}.", argument);
}

/// <summary>Keras's reductions of weighted loss values (<c>reduce_weighted_values</c>).</summary>
public static class LossReduction
{
    /// <summary>Multiplies by sample weights (aligned by rank), applies the mask, and reduces.</summary>
    public static Tensor ReduceWeighted(Tensor values, Tensor? sampleWeight, Tensor? mask, Reduction reduction)
    {
        Tensor? weight = sampleWeight is null ? null : sampleWeight.to_type(values.dtype).to(values.device);
        if (mask is not null)
        {
            var m = mask.to_type(values.dtype);
            if (reduction.Kind is ReductionKind.SumOverBatchSize or ReductionKind.Mean)
            {
                // Keras: valid entries get weight total/valid so the mean runs over valid entries only.
                var valid = m.sum();
                m = m * torch.where(valid > 0, m.numel() / valid, torch.zeros_like(valid));
            }
            if (weight is not null)
            {
                var (mm, ww) = Loss.SqueezeOrExpandToSameRank(m, weight);
                weight = ww * mm;
            }
            else weight = m;
        }
        if (weight is not null)
        {
            var (v, w) = Loss.SqueezeOrExpandToSameRank(values, weight);
            while (w.dim() < v.dim()) w = w.unsqueeze(-1);
            values = v * w;
        }
        return Reduce(values, weight, reduction);
    }

    /// <summary>Keras's <c>reduce_values</c>.</summary>
    public static Tensor Reduce(Tensor values, Tensor? sampleWeight, Reduction reduction)
    {
        if (reduction.Kind == ReductionKind.None || values.dim() == 0 || (values.dim() == 1 && values.shape[0] == 0))
            return values;
        var loss = values.sum();
        switch (reduction.Kind)
        {
            case ReductionKind.MeanWithSampleWeight when sampleWeight is not null:
            {
                var divisor = sampleWeight.sum();
                return torch.where(divisor != 0, loss / divisor, torch.zeros_like(loss));
            }
            case ReductionKind.SumOverBatchSize or ReductionKind.Mean or ReductionKind.MeanWithSampleWeight:
                return values.numel() > 0 ? loss / values.numel() : loss;
            default:
                return loss;
        }
    }
}

internal sealed class FunctionLoss(string FunctionName, Func<Tensor, Tensor, Tensor> PerSample, Reduction ReductionArgument)
    : Loss(FunctionName, ReductionArgument)
{
    public override string ClassName => "LossFunctionWrapper";
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = SqueezeOrExpandToSameRank(yTrue, yPred);
        return PerSample(t, p);
    }
}

/// <summary><c>mean(square(y_true − y_pred), axis=−1)</c> (Keras <c>MeanSquaredError</c>, alias <c>mse</c>).</summary>
public sealed class MeanSquaredError(Reduction reduction = default, string name = "mean_squared_error") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return (t - p).square().mean([-1L]);
    }
}

/// <summary><c>mean(abs(y_true − y_pred), axis=−1)</c> (Keras <c>MeanAbsoluteError</c>, alias <c>mae</c>).</summary>
public sealed class MeanAbsoluteError(Reduction reduction = default, string name = "mean_absolute_error") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return (t - p).abs().mean([-1L]);
    }
}

/// <summary><c>100 · mean(abs((y_true − y_pred) / max(abs(y_true), ε)), axis=−1)</c> (Keras <c>MeanAbsolutePercentageError</c>, alias <c>mape</c>).</summary>
public sealed class MeanAbsolutePercentageError(Reduction reduction = default, string name = "mean_absolute_percentage_error") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return ((t - p) / t.abs().clamp_min(Epsilon)).abs().mean([-1L]) * 100.0;
    }
}

/// <summary><c>mean(square(log(max(y_pred, ε) + 1) − log(max(y_true, ε) + 1)), axis=−1)</c> (Keras <c>MeanSquaredLogarithmicError</c>, alias <c>msle</c>).</summary>
public sealed class MeanSquaredLogarithmicError(Reduction reduction = default, string name = "mean_squared_logarithmic_error") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return ((p.clamp_min(Epsilon) + 1).log() - (t.clamp_min(Epsilon) + 1).log()).square().mean([-1L]);
    }
}

/// <summary>
/// <c>−sum(l2_normalize(y_true) · l2_normalize(y_pred), axis)</c>, normalising by <c>max(‖x‖, ε)</c> (Keras 3
/// <c>CosineSimilarity</c>; Keras 2's <c>cosine_proximity</c> is the same formula).
/// </summary>
public sealed class CosineSimilarity(int axis = -1, Reduction reduction = default, string name = "cosine_similarity") : Loss(name, reduction)
{
    /// <summary>The feature axis.</summary>
    public int Axis { get; } = axis;

    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return -(Normalize(t, Axis) * Normalize(p, Axis)).sum([(long)Axis]);
    }

    internal static Tensor Normalize(Tensor x, long axis) =>
        x / x.square().sum([axis], keepdim: true).sqrt().clamp_min(Epsilon);
}

/// <summary>Huber: <c>½x²</c> where <c>|x| ≤ delta</c>, else <c>delta·|x| − ½delta²</c>, averaged over the last axis (Keras <c>Huber</c>).</summary>
public sealed class Huber(double delta = 1.0, Reduction reduction = default, string name = "huber_loss") : Loss(name, reduction)
{
    /// <summary>Where the loss turns linear.</summary>
    public double Delta { get; } = delta;

    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        var error = p - t;
        var abs = error.abs();
        return torch.where(abs <= Delta, 0.5 * error.square(), Delta * abs - 0.5 * Delta * Delta).mean([-1L]);
    }
}

/// <summary><c>mean(log(cosh(y_pred − y_true)), axis=−1)</c>, computed as <c>x + softplus(−2x) − log 2</c> (Keras <c>LogCosh</c>, alias <c>logcosh</c>).</summary>
public sealed class LogCosh(Reduction reduction = default, string name = "log_cosh") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        var x = p - t;
        return (x + nn.functional.softplus(x * -2.0) - Math.Log(2.0)).mean([-1L]);
    }
}

/// <summary><c>mean(maximum(1 − y_true · y_pred, 0), axis=−1)</c>; 0/1 labels become −1/1 (Keras <c>Hinge</c>).</summary>
public sealed class Hinge(Reduction reduction = default, string name = "hinge") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return (1.0 - HingeLabels(t) * p).clamp_min(0.0).mean([-1L]);
    }

    /// <summary>Keras's <c>convert_binary_labels_to_hinge</c>: if every label is 0 or 1, map to −1/1; otherwise keep.</summary>
    internal static Tensor HingeLabels(Tensor t)
    {
        var binary = ((t == 0) | (t == 1)).all().item<bool>();
        return binary ? 2.0 * t - 1.0 : t;
    }
}

/// <summary><c>mean(square(maximum(1 − y_true · y_pred, 0)), axis=−1)</c>; 0/1 labels become −1/1 (Keras <c>SquaredHinge</c>).</summary>
public sealed class SquaredHinge(Reduction reduction = default, string name = "squared_hinge") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return (1.0 - Hinge.HingeLabels(t) * p).clamp_min(0.0).square().mean([-1L]);
    }
}

/// <summary><c>maximum(neg − pos + 1, 0)</c> with <c>pos = sum(y_true·y_pred)</c>, <c>neg = max((1 − y_true)·y_pred)</c> (Keras <c>CategoricalHinge</c>).</summary>
public sealed class CategoricalHinge(Reduction reduction = default, string name = "categorical_hinge") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        var pos = (t * p).sum([-1L]);
        var neg = ((1.0 - t) * p).amax([-1L]);
        return (neg - pos + 1.0).clamp_min(0.0);
    }
}

/// <summary><c>sum(y_true · log(y_true / y_pred), axis=−1)</c>, both clipped to [ε, 1] (Keras <c>KLDivergence</c>, aliases <c>kld</c>, <c>kullback_leibler_divergence</c>).</summary>
public sealed class KLDivergence(Reduction reduction = default, string name = "kl_divergence") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        t = t.clamp(Epsilon, 1.0);
        p = p.clamp(Epsilon, 1.0);
        return (t * (t / p).log()).sum([-1L]);
    }
}

/// <summary><c>mean(y_pred − y_true · log(y_pred + ε), axis=−1)</c> (Keras <c>Poisson</c>).</summary>
public sealed class Poisson(Reduction reduction = default, string name = "poisson") : Loss(name, reduction)
{
    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        return (p - t * (p + Epsilon).log()).mean([-1L]);
    }
}

/// <summary>
/// Binary cross-entropy averaged over <paramref name="axis"/> (Keras <c>BinaryCrossentropy</c>). Probabilities are clipped to
/// [ε, 1 − ε]; with <paramref name="fromLogits"/> the stable logits form is used. Label smoothing squeezes targets towards ½:
/// <c>y·(1 − s) + ½s</c>.
/// </summary>
public sealed class BinaryCrossentropy(bool fromLogits = false, double labelSmoothing = 0.0, int axis = -1,
    Reduction reduction = default, string name = "binary_crossentropy") : Loss(name, reduction)
{
    /// <summary>Whether predictions are logits.</summary>
    public bool FromLogits { get; } = fromLogits;
    /// <summary>Label smoothing in [0, 1].</summary>
    public double LabelSmoothing { get; } = Probability(labelSmoothing, nameof(labelSmoothing), "BinaryCrossentropy");
    /// <summary>The axis averaged over.</summary>
    public int Axis { get; } = axis;

    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        if (LabelSmoothing != 0) t = t * (1.0 - LabelSmoothing) + 0.5 * LabelSmoothing;
        return Elementwise(t, p, FromLogits).mean([(long)Axis]);
    }

    /// <summary>Keras's (torch backend) elementwise binary cross-entropy.</summary>
    internal static Tensor Elementwise(Tensor target, Tensor output, bool fromLogits) =>
        fromLogits
            ? nn.functional.binary_cross_entropy_with_logits(output, target, reduction: nn.Reduction.None)
            : nn.functional.binary_cross_entropy(output.clamp(Epsilon, 1.0 - Epsilon), target, reduction: nn.Reduction.None);
}

/// <summary>
/// Categorical cross-entropy over one-hot targets (Keras <c>CategoricalCrossentropy</c>): <c>−sum(y_true · log p)</c>, where
/// probabilities are renormalised to sum to one and clipped to [ε, 1 − ε], or <c>p = softmax(logits)</c> with
/// <paramref name="fromLogits"/>. Label smoothing: <c>y·(1 − s) + s / classes</c>.
/// </summary>
public sealed class CategoricalCrossentropy(bool fromLogits = false, double labelSmoothing = 0.0, int axis = -1,
    Reduction reduction = default, string name = "categorical_crossentropy") : Loss(name, reduction)
{
    /// <summary>Whether predictions are logits.</summary>
    public bool FromLogits { get; } = fromLogits;
    /// <summary>Label smoothing in [0, 1].</summary>
    public double LabelSmoothing { get; } = Probability(labelSmoothing, nameof(labelSmoothing), "CategoricalCrossentropy");
    /// <summary>The class axis.</summary>
    public int Axis { get; } = axis;

    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Align(yTrue, yPred);
        if (LabelSmoothing != 0) t = t * (1.0 - LabelSmoothing) + LabelSmoothing / t.shape[^1];
        return -(t * LogProbabilities(p, Axis, FromLogits)).sum([(long)Axis]);
    }

    /// <summary>Keras's (torch backend) log-probabilities: log_softmax of logits, or log of renormalised, clipped probabilities.</summary>
    internal static Tensor LogProbabilities(Tensor output, long axis, bool fromLogits) =>
        fromLogits
            ? nn.functional.log_softmax(output, axis)
            : (output / output.sum([axis], keepdim: true)).clamp(Epsilon, 1.0 - Epsilon).log();
}

/// <summary>
/// Categorical cross-entropy over integer class labels (Keras <c>SparseCategoricalCrossentropy</c>): targets of shape
/// <c>(N)</c> or <c>(N, 1)</c>. With <paramref name="ignoreClass"/>, those entries count neither in the sum nor in the mean.
/// </summary>
public sealed class SparseCategoricalCrossentropy(bool fromLogits = false, int? ignoreClass = null, int axis = -1,
    Reduction reduction = default, string name = "sparse_categorical_crossentropy") : Loss(name, reduction)
{
    /// <summary>Whether predictions are logits.</summary>
    public bool FromLogits { get; } = fromLogits;
    /// <summary>A label to ignore (e.g. a void class).</summary>
    public int? IgnoreClass { get; } = ignoreClass;
    /// <summary>The class axis.</summary>
    public int Axis { get; } = axis;

    /// <inheritdoc />
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        CheckTargets(yTrue, yPred.shape);
        return CallChecked(yTrue, yPred);
    }

    /// <summary>
    /// Labels must have the prediction's shape without the class axis (or with it of size 1) and lie in
    /// <c>[0, classes)</c> (or equal <see cref="IgnoreClass"/>). On a CPU tensor this reads two tiny reductions; on a device
    /// tensor it is one host sync (compile/fit checks the host copy of each batch instead).
    /// </summary>
    public override void CheckTargets(Tensor yTrue, long[] predictionShape)
    {
        var axis = Axis < 0 ? predictionShape.Length + Axis : Axis;
        if (axis < 0 || axis >= predictionShape.Length)
            throw new ArgumentException($"SparseCategoricalCrossentropy: axis={Axis} is out of range for predictions of shape {ShapeText(predictionShape)}.");
        var classes = predictionShape[axis];
        var expected = new long[predictionShape.Length - 1];
        for (int i = 0, j = 0; i < predictionShape.Length; i++)
            if (i != axis) expected[j++] = predictionShape[i];
        var shape = yTrue.shape;
        var squeezable = shape.Length == predictionShape.Length && shape[^1] == 1;
        if (!shape.AsSpan(0, squeezable ? shape.Length - 1 : shape.Length).SequenceEqual(expected))
            throw new ArgumentException(
                $"SparseCategoricalCrossentropy: expected integer labels of shape ({string.Join(", ", expected)}{(expected.Length == 1 ? "," : "")}) for predictions of shape {ShapeText(predictionShape)}. Received: y_true.shape={ShapeText(shape)}.");
        if (yTrue.numel() == 0) return;
        using var scope = NewDisposeScope();
        var t = yTrue.is_floating_point() ? yTrue.trunc() : yTrue;
        if (IgnoreClass is { } ignore) t = torch.where(t == ignore, torch.zeros_like(t), t);
        // Both bounds in one transfer.
        var bounds = torch.stack([t.min(), t.max()]).to_type(ScalarType.Float64).cpu().data<double>();
        var (min, max) = (bounds[0], bounds[1]);
        if (double.IsNaN(min) || double.IsNaN(max))
            throw new ArgumentException($"SparseCategoricalCrossentropy: labels must be integers in [0, {classes}); received NaN.");
        if (min < 0 || max >= classes)
            throw new ArgumentException(
                $"SparseCategoricalCrossentropy: labels must be integers in [0, {classes}) for predictions of shape {ShapeText(predictionShape)}. Received a label {(min < 0 ? min : max).ToString(CultureInfo.InvariantCulture)}.");
    }

    /// <inheritdoc />
    protected override bool CastsTargets => false;

    /// <inheritdoc />
    protected override Tensor CallChecked(Tensor yTrue, Tensor yPred)
    {
        var t = SparseLabels(yTrue, yPred);
        var valid = IgnoreClass is { } ignore ? t != ignore : null;
        var index = valid is null ? t : torch.where(valid, t, torch.zeros_like(t));
        var logp = CategoricalCrossentropy.LogProbabilities(yPred, Axis, FromLogits);
        var picked = -logp.gather(Axis, index.unsqueeze(Axis)).squeeze(Axis);
        return valid is null ? picked : torch.where(valid, picked, torch.zeros_like(picked));
    }

    /// <summary>
    /// The common case — (N, C) predictions, no sample weights or ignored class, <c>sum_over_batch_size</c> — as one
    /// <c>nll_loss</c> on Keras's log-probabilities: the same value as gathering and averaging, in one kernel instead of four.
    /// </summary>
    protected override Tensor? ComputeFused(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        if (sampleWeight is not null || IgnoreClass is not null || Reduction.Kind != ReductionKind.SumOverBatchSize
            || yPred.dim() != 2 || (Axis != -1 && Axis != 1) || yPred.shape[0] == 0)
            return null;
        var logp = CategoricalCrossentropy.LogProbabilities(yPred, 1, FromLogits);
        return nn.functional.nll_loss(logp, SparseLabels(yTrue, yPred));
    }

    /// <inheritdoc />
    protected override Tensor? Mask(Tensor yTrue, Tensor yPred) =>
        IgnoreClass is { } ignore ? SparseLabels(yTrue, yPred) != ignore : null;
}

/// <summary>Looks losses up by Keras's identifiers.</summary>
public static class Losses
{
    private static readonly Dictionary<string, Func<Loss>> ByName = new(StringComparer.Ordinal)
    {
        ["meansquarederror"] = () => new MeanSquaredError(),
        ["mse"] = () => new MeanSquaredError(),
        ["meanabsoluteerror"] = () => new MeanAbsoluteError(),
        ["mae"] = () => new MeanAbsoluteError(),
        ["meanabsolutepercentageerror"] = () => new MeanAbsolutePercentageError(),
        ["mape"] = () => new MeanAbsolutePercentageError(),
        ["meansquaredlogarithmicerror"] = () => new MeanSquaredLogarithmicError(),
        ["msle"] = () => new MeanSquaredLogarithmicError(),
        ["cosinesimilarity"] = () => new CosineSimilarity(),
        ["cosineproximity"] = () => new CosineSimilarity(name: "cosine_proximity"),
        ["huber"] = () => new Huber(),
        ["huberloss"] = () => new Huber(),
        ["logcosh"] = () => new LogCosh(),
        ["hinge"] = () => new Hinge(),
        ["squaredhinge"] = () => new SquaredHinge(),
        ["categoricalhinge"] = () => new CategoricalHinge(),
        ["kldivergence"] = () => new KLDivergence(),
        ["kld"] = () => new KLDivergence(),
        ["kullbackleiblerdivergence"] = () => new KLDivergence(name: "kullback_leibler_divergence"),
        ["poisson"] = () => new Poisson(),
        ["binarycrossentropy"] = () => new BinaryCrossentropy(),
        ["bce"] = () => new BinaryCrossentropy(),
        ["categoricalcrossentropy"] = () => new CategoricalCrossentropy(),
        ["sparsecategoricalcrossentropy"] = () => new SparseCategoricalCrossentropy(),
    };

    /// <summary>The known identifiers (normalised: lower case, no underscores).</summary>
    public static IEnumerable<string> Names => ByName.Keys;

    /// <summary>
    /// Resolves a Keras identifier — <c>mean_squared_error</c>, <c>MeanSquaredError</c>, <c>mse</c>, … — to a loss with
    /// Keras's defaults. Case and underscores are ignored.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown identifier, named in the message.</exception>
    public static Loss Get(string identifier)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        var key = Normalize(identifier);
        return ByName.TryGetValue(key, out var make)
            ? make()
            : throw new ArgumentException(
                $"Could not interpret loss identifier: '{identifier}'. Known: mean_squared_error (mse), mean_absolute_error (mae), " +
                "mean_absolute_percentage_error (mape), mean_squared_logarithmic_error (msle), squared_hinge, hinge, categorical_hinge, " +
                "binary_crossentropy, log_cosh (logcosh), categorical_crossentropy, sparse_categorical_crossentropy, " +
                "kl_divergence (kld, kullback_leibler_divergence), poisson, cosine_similarity (cosine_proximity), huber.", nameof(identifier));
    }

    internal static string Normalize(string identifier) => identifier.Trim().Replace("_", "").ToLowerInvariant();
}
