using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Training;

/// <summary>
/// A streaming Keras metric: <see cref="UpdateState"/> accumulates over batches, <see cref="Result"/> reads the value
/// so far, <see cref="ResetState"/> starts again. State is kept in managed doubles, so a metric holds no native memory.
/// Strings convert implicitly (<c>"accuracy"</c>, <c>"mae"</c>, any loss name).
/// </summary>
/// <remarks>
/// Not thread-safe: it keeps running totals. A compiled model uses its metrics under its own lock (one fit or evaluate at a
/// time); a metric you update yourself belongs to one thread.
/// </remarks>
public abstract class Metric
{
    /// <summary>Creates the metric with its display name.</summary>
    protected Metric(string name) => Name = string.IsNullOrWhiteSpace(name)
        ? throw new ArgumentException("Expected a non-empty metric name.", nameof(name)) : name;

    /// <summary>The name shown in logs and history (<c>accuracy</c>; <c>val_accuracy</c> on validation data).</summary>
    public string Name { get; }

    /// <summary>Accumulates one batch.</summary>
    public abstract void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight = null);

    /// <summary>The value over everything accumulated since the last reset.</summary>
    public abstract double Result();

    /// <summary>Forgets what was accumulated.</summary>
    public abstract void ResetState();

    /// <summary>Keras's identifiers: see <see cref="Metrics.Get"/>.</summary>
    public static implicit operator Metric(string identifier) => OptionConversion.Convert(identifier, i => Metrics.Get(i!));

    /// <inheritdoc />
    public override string ToString() => $"{GetType().Name}(name={Name})";
}

/// <summary>
/// The weighted mean of values (Keras <c>Mean</c>): values are reduced to one per sample (mean over the other axes),
/// then <c>Σ w·v / Σ w</c> over every batch; without weights each sample weighs 1.
/// </summary>
public class Mean : Metric
{
    private double total;
    private double count;

    /// <summary>Creates the metric.</summary>
    public Mean(string name = "mean") : base(name) { }

    /// <summary>Adds values (any shape, first axis = samples), optionally weighted per sample.</summary>
    public void UpdateValues(Tensor values, Tensor? sampleWeight = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (sampleWeight is null && values.dim() <= 1)
        {
            // The common case (one value per sample, unweighted): one reduction, accumulated in double.
            total += values.sum(ScalarType.Float64).item<double>();
            count += values.dim() == 1 ? values.shape[0] : 1;
            return;
        }
        var v = values.to_type(ScalarType.Float64);
        if (sampleWeight is not null)
        {
            var w = sampleWeight.to_type(ScalarType.Float64).to(v.device);
            (v, w) = Loss.SqueezeOrExpandToSameRank(v, w);
            if (v.dim() > w.dim()) v = v.mean(Enumerable.Range((int)w.dim(), (int)(v.dim() - w.dim())).Select(i => (long)i).ToArray());
            w = w.broadcast_to(v.shape);
            v = v * w;
            if (w.dim() > 1) w = w.mean(Enumerable.Range(1, (int)w.dim() - 1).Select(i => (long)i).ToArray());
            total += v.sum().item<double>();
            count += w.sum().item<double>();
            return;
        }
        total += (v.dim() > 1 ? v.mean(Enumerable.Range(1, (int)v.dim() - 1).Select(i => (long)i).ToArray()) : v).sum().item<double>();
        count += v.dim() >= 1 ? v.shape[0] : 1;
    }

    /// <summary>Adds a single value with a weight (e.g. a batch's loss weighted by its size).</summary>
    public void UpdateValue(double value, double weight = 1.0)
    {
        total += value * weight;
        count += weight;
    }

    /// <inheritdoc />
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight = null) => UpdateValues(yPred, sampleWeight);

    /// <inheritdoc />
    public override double Result() => count == 0 ? 0.0 : total / count;

    /// <inheritdoc />
    public override void ResetState() { total = 0; count = 0; }
}

/// <summary>The weighted mean of a per-sample function of targets and predictions (Keras <c>MeanMetricWrapper</c>).</summary>
public class MeanMetricWrapper : Mean
{
    private readonly Func<Tensor, Tensor, Tensor> function;

    /// <summary>Wraps <paramref name="function"/> (targets, predictions) → values per sample.</summary>
    public MeanMetricWrapper(string name, Func<Tensor, Tensor, Tensor> function) : base(name) => this.function = function;

    /// <inheritdoc />
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var p = yPred.is_floating_point() ? yPred : yPred.to_type(ScalarType.Float32);
        UpdateValues(function(yTrue, p), sampleWeight);
    }
}

/// <summary>How often predictions exactly equal targets (Keras <c>Accuracy</c>).</summary>
public sealed class Accuracy(string name = "accuracy") : MeanMetricWrapper(name, AccuracyFunctions.Accuracy);

/// <summary>How often <c>y_pred &gt; threshold</c> matches the 0/1 target (Keras <c>BinaryAccuracy</c>, threshold 0.5).</summary>
public sealed class BinaryAccuracy(string name = "binary_accuracy", double threshold = 0.5)
    : MeanMetricWrapper(name, (t, p) => AccuracyFunctions.BinaryAccuracy(t, p, threshold));

/// <summary>How often the arg-max of the prediction matches the arg-max of the one-hot target (Keras <c>CategoricalAccuracy</c>).</summary>
public sealed class CategoricalAccuracy(string name = "categorical_accuracy")
    : MeanMetricWrapper(name, AccuracyFunctions.CategoricalAccuracy);

/// <summary>How often the arg-max of the prediction matches the integer label (Keras <c>SparseCategoricalAccuracy</c>).</summary>
public sealed class SparseCategoricalAccuracy(string name = "sparse_categorical_accuracy")
    : MeanMetricWrapper(name, AccuracyFunctions.SparseCategoricalAccuracy);

/// <summary>How often the one-hot target's class is among the <paramref name="k"/> highest predictions (Keras <c>TopKCategoricalAccuracy</c>, k = 5).</summary>
public sealed class TopKCategoricalAccuracy(int k = 5, string name = "top_k_categorical_accuracy")
    : MeanMetricWrapper(name, (t, p) => AccuracyFunctions.TopK(t.argmax(-1), p, k));

/// <summary>How often the integer label is among the <paramref name="k"/> highest predictions (Keras <c>SparseTopKCategoricalAccuracy</c>, k = 5).</summary>
public sealed class SparseTopKCategoricalAccuracy(int k = 5, string name = "sparse_top_k_categorical_accuracy")
    : MeanMetricWrapper(name, (t, p) => AccuracyFunctions.TopK(Loss.SparseLabels(t, p), p, k));

/// <summary>
/// <c>"accuracy"</c> as <c>compile</c> resolves it in Keras (<c>compile_utils.get_metric</c>): on the first batch, binary
/// accuracy when predictions have a last axis of 1, sparse categorical accuracy when targets have lower rank (or a last
/// axis of 1 against several classes), categorical accuracy otherwise. The name stays as given (<c>accuracy</c>/<c>acc</c>).
/// </summary>
public sealed class AutoAccuracy(string name = "accuracy") : Metric(name)
{
    private Metric? resolved;

    /// <summary>The metric chosen on the first batch (null before).</summary>
    public Metric? Resolved => resolved;

    /// <inheritdoc />
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight = null)
    {
        resolved ??= Resolve(yTrue, yPred, Name);
        resolved.UpdateState(yTrue, yPred, sampleWeight);
    }

    /// <summary>Keras's <c>is_binary_or_sparse_categorical</c> choice.</summary>
    public static Metric Resolve(Tensor yTrue, Tensor yPred, string name)
    {
        var tLast = yTrue.dim() == 0 ? 1 : yTrue.shape[^1];
        var pLast = yPred.dim() == 0 ? 1 : yPred.shape[^1];
        var isBinary = pLast == 1;
        var isSparse = yTrue.dim() < yPred.dim() || (tLast == 1 && pLast > 1);
        return isBinary ? new BinaryAccuracy(name) : isSparse ? new SparseCategoricalAccuracy(name) : new CategoricalAccuracy(name);
    }

    /// <inheritdoc />
    public override double Result() => resolved?.Result() ?? 0.0;

    /// <inheritdoc />
    public override void ResetState() => resolved?.ResetState();
}

/// <summary>Keras's per-sample accuracy functions.</summary>
public static class AccuracyFunctions
{
    /// <summary><c>equal(y_true, y_pred)</c> after aligning ranks.</summary>
    public static Tensor Accuracy(Tensor yTrue, Tensor yPred)
    {
        var (t, p) = Loss.SqueezeOrExpandToSameRank(yTrue.to_type(yPred.dtype), yPred);
        return t.eq(p).to_type(ScalarType.Float32);
    }

    /// <summary><c>equal(y_true, y_pred &gt; threshold)</c> after aligning ranks.</summary>
    public static Tensor BinaryAccuracy(Tensor yTrue, Tensor yPred, double threshold = 0.5)
    {
        var (t, p) = Loss.SqueezeOrExpandToSameRank(yTrue.to_type(yPred.dtype), yPred);
        return t.eq((p > threshold).to_type(t.dtype)).to_type(ScalarType.Float32);
    }

    /// <summary><c>equal(argmax(y_true), argmax(y_pred))</c>.</summary>
    public static Tensor CategoricalAccuracy(Tensor yTrue, Tensor yPred) =>
        yTrue.argmax(-1).eq(yPred.argmax(-1)).to_type(ScalarType.Float32);

    /// <summary><c>equal(y_true, argmax(y_pred))</c> for labels of shape (N) or (N, 1).</summary>
    public static Tensor SparseCategoricalAccuracy(Tensor yTrue, Tensor yPred) =>
        Loss.SparseLabels(yTrue, yPred).eq(yPred.argmax(-1)).to_type(ScalarType.Float32);

    /// <summary>Whether each label's prediction is at least the k-th largest (Keras's <c>in_top_k</c>: ties count as in).</summary>
    public static Tensor TopK(Tensor labels, Tensor yPred, int k)
    {
        if (k < 1) throw new ArgumentException($"Expected argument 'k' to be a positive integer. Received: k={k}.", nameof(k));
        var classes = yPred.shape[^1];
        var target = yPred.gather(-1, labels.to_type(ScalarType.Int64).unsqueeze(-1)).squeeze(-1);
        if (k >= classes) return torch.ones_like(target, dtype: ScalarType.Float32);
        var kth = yPred.topk(k, -1).values.select(-1, k - 1);
        return (target >= kth).to_type(ScalarType.Float32);
    }
}

/// <summary>Looks metrics up by Keras's identifiers.</summary>
public static class Metrics
{
    /// <summary>
    /// Resolves an identifier: <c>accuracy</c>/<c>acc</c> (chosen from shapes as <c>compile</c> does, see <see cref="AutoAccuracy"/>),
    /// <c>binary_accuracy</c>, <c>categorical_accuracy</c>, <c>sparse_categorical_accuracy</c>, <c>top_k_categorical_accuracy</c>,
    /// <c>sparse_top_k_categorical_accuracy</c>, or any loss name (its per-sample values averaged, named as given).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown identifier, named in the message.</exception>
    public static Metric Get(string identifier)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        var name = identifier.Trim();
        switch (Losses.Normalize(name))
        {
            case "accuracy" or "acc": return new AutoAccuracy(name);
            case "binaryaccuracy": return new BinaryAccuracy(name);
            case "categoricalaccuracy": return new CategoricalAccuracy(name);
            case "sparsecategoricalaccuracy": return new SparseCategoricalAccuracy(name);
            case "topkcategoricalaccuracy": return new TopKCategoricalAccuracy(name: name);
            case "sparsetopkcategoricalaccuracy": return new SparseTopKCategoricalAccuracy(name: name);
        }
        if (Losses.Names.Contains(Losses.Normalize(name)))
            return FromLoss(Losses.Get(name), name);
        throw new ArgumentException(
            $"Could not interpret metric identifier: '{identifier}'. Known: accuracy (acc), binary_accuracy, categorical_accuracy, " +
            "sparse_categorical_accuracy, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, and every loss name.", nameof(identifier));
    }

    /// <summary>A loss used as a metric: the mean of its per-sample values (Keras wraps loss functions in <c>MeanMetricWrapper</c>).</summary>
    public static Metric FromLoss(Loss loss, string? name = null) =>
        new MeanMetricWrapper(name ?? loss.Name, (t, p) =>
        {
            var target = t.dtype == p.dtype ? t : t.to_type(p.dtype);
            return loss.Call(target, p);
        });
}
