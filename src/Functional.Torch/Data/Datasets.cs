using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Building;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Data;

/// <summary>One batch: a tensor per model input, a tensor per model output's target, and optional per-sample weights.</summary>
/// <param name="Inputs">One tensor per model input, batch first.</param>
/// <param name="Targets">One tensor per model output.</param>
/// <param name="SampleWeight">Per-sample weights (length = batch size), or null.</param>
public sealed record Batch(IReadOnlyList<Tensor> Inputs, IReadOnlyList<Tensor> Targets, Tensor? SampleWeight = null)
{
    /// <summary>The number of samples.</summary>
    public long Size => Inputs[0].shape[0];
}

/// <summary>
/// A source of batches for <c>fit</c>/<c>evaluate</c> (Keras's <c>PyDataset</c> idea): a fixed number of steps per epoch and
/// the batches of one epoch. The trainer enumerates batches inside its per-step dispose scope, so tensors a source makes
/// for a batch are released after the step; state a source keeps across batches must live outside those scopes
/// (compute it when <see cref="Batches"/> is called, not lazily inside the enumeration).
/// </summary>
/// <remarks>
/// Fit and evaluate enumerate a source on their own thread (a worker thread for the <c>…Async</c> methods), one epoch at a
/// time; a source shared by two runs at once must allow concurrent <see cref="Batches"/> calls.
/// </remarks>
public interface IBatchSource
{
    /// <summary>Batches per epoch.</summary>
    int StepsPerEpoch { get; }

    /// <summary>The batches of epoch <paramref name="epoch"/> (0-based), in order.</summary>
    IEnumerable<Batch> Batches(int epoch);
}

/// <summary>
/// In-memory tensors served in batches, optionally shuffled each epoch with <see cref="Generator"/> (fit sets its compiled
/// model's) or else torch's global generator. The tensors stay owned by the caller.
/// </summary>
/// <remarks>
/// It only reads its tensors (which must stay undisposed while it is used), so unshuffled enumerations may run concurrently;
/// shuffled, each epoch draws one permutation from <see cref="Generator"/>, which two runs sharing it would both advance.
/// </remarks>
public sealed class TensorDataset : IBatchSource
{
    /// <summary>Serves <paramref name="x"/> (one tensor per input) and <paramref name="y"/> (one per output) in batches.</summary>
    /// <exception cref="ArgumentException">Different sample counts, or a non-positive batch size.</exception>
    public TensorDataset(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize = 32, bool shuffle = false, Tensor? sampleWeight = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count == 0) throw new ArgumentException("Expected at least one input tensor.", nameof(x));
        for (var i = 0; i < x.Count; i++)
            if (x[i] is null) throw new ArgumentNullException(nameof(x), $"Input tensor x[{i}] is null.");
        for (var i = 0; i < y.Count; i++)
            if (y[i] is null) throw new ArgumentNullException(nameof(y), $"Target tensor y[{i}] is null.");
        BuiltNetwork.CheckBatchSize(batchSize);
        var counts = x.Select(t => t.dim() == 0 ? -1 : t.shape[0]).Concat(y.Select(t => t.dim() == 0 ? -1 : t.shape[0])).ToList();
        if (sampleWeight is not null) counts.Add(sampleWeight.dim() == 0 ? -1 : sampleWeight.shape[0]);
        if (counts.Distinct().Count() != 1 || counts[0] < 0)
            throw new ArgumentException(
                "Data cardinality is ambiguous. Make sure all arrays contain the same number of samples. " +
                $"'x' sizes: {string.Join(", ", x.Select(t => t.dim() == 0 ? "scalar" : t.shape[0].ToString()))}; " +
                $"'y' sizes: {string.Join(", ", y.Select(t => t.dim() == 0 ? "scalar" : t.shape[0].ToString()))}" +
                (sampleWeight is null ? "." : $"; 'sample_weight' size: {(sampleWeight.dim() == 0 ? "scalar" : sampleWeight.shape[0].ToString())}."));
        X = x;
        Y = y;
        SampleWeight = sampleWeight;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Count = counts[0];
    }

    /// <summary>Single input and output.</summary>
    public TensorDataset(Tensor x, Tensor y, int batchSize = 32, bool shuffle = false, Tensor? sampleWeight = null)
        : this([x], [y], batchSize, shuffle, sampleWeight) { }

    /// <summary>The inputs.</summary>
    public IReadOnlyList<Tensor> X { get; }
    /// <summary>The targets.</summary>
    public IReadOnlyList<Tensor> Y { get; }
    /// <summary>Per-sample weights, if any.</summary>
    public Tensor? SampleWeight { get; }
    /// <summary>Samples per batch (the last batch may be smaller).</summary>
    public int BatchSize { get; }
    /// <summary>Whether each epoch visits the samples in a new random order.</summary>
    public bool Shuffle { get; }
    /// <summary>The number of samples.</summary>
    public long Count { get; }
    /// <summary>The generator shuffling draws from (null: torch's global generator).</summary>
    public Generator? Generator { get; init; }

    /// <inheritdoc />
    public int StepsPerEpoch => (int)((Count + BatchSize - 1) / BatchSize);

    /// <inheritdoc />
    public IEnumerable<Batch> Batches(int epoch)
    {
        long[]? order = null;
        if (Shuffle)
        {
            using var perm = torch.randperm(Count, generator: Generator);
            order = perm.data<long>().ToArray();
        }
        return Iterate(order);
    }

    private IEnumerable<Batch> Iterate(long[]? order)
    {
        for (long start = 0; start < Count; start += BatchSize)
        {
            var size = Math.Min(BatchSize, Count - start);
            if (order is null)
            {
                yield return new Batch(X.Select(t => t.narrow(0, start, size)).ToList(), Y.Select(t => t.narrow(0, start, size)).ToList(),
                    SampleWeight?.narrow(0, start, size));
            }
            else
            {
                var index = torch.tensor(order.AsSpan((int)start, (int)size).ToArray());
                yield return new Batch(X.Select(t => t.index_select(0, index.to(t.device))).ToList(),
                    Y.Select(t => t.index_select(0, index.to(t.device))).ToList(), SampleWeight?.index_select(0, index.to(SampleWeight.device)));
            }
        }
    }
}

/// <summary>Validation data for <c>fit</c> (Keras's <c>validation_data=(x, y)</c> or <c>(x, y, sample_weight)</c>).</summary>
/// <param name="X">Inputs (one tensor per model input).</param>
/// <param name="Y">Targets (one tensor per model output).</param>
/// <param name="SampleWeight">Optional per-sample weights.</param>
public sealed record ValidationData(IReadOnlyList<Tensor> X, IReadOnlyList<Tensor> Y, Tensor? SampleWeight = null)
{
    /// <summary>Single-input, single-output validation data.</summary>
    public ValidationData(Tensor x, Tensor y, Tensor? sampleWeight = null) : this([x], [y], sampleWeight) { }

    /// <summary>From a C# tuple <c>(x, y)</c>.</summary>
    public static implicit operator ValidationData((Tensor X, Tensor Y) data) => new(data.X, data.Y);
}
