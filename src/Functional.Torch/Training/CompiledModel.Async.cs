using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using static TorchSharp.torch;

namespace Functional.Torch.Training;

// The asynchronous entry points: the synchronous loops run on a worker thread with a cancellation token checked between
// batches and an IProgress<TrainingProgress> told of each batch.
public sealed partial class CompiledModel
{
    /// <summary>
    /// <see cref="Fit(Tensor, Tensor, int, int, Verbose, IEnumerable{Callback}?, double, ValidationData?, bool, IReadOnlyDictionary{int, double}?, Tensor?, int, int?, int?, int)"/>
    /// on a worker thread: the caller's thread is free at once, <paramref name="progress"/> hears of each batch and epoch, and
    /// <paramref name="cancellationToken"/> stops training between two batches.
    /// </summary>
    /// <remarks>
    /// Cancellation is checked before each epoch and each batch (validation batches included), never inside a step, so every
    /// optimizer step is applied whole. On cancellation the epoch in progress gets no <c>OnEpochEnd</c> and no
    /// <see cref="History"/> entry, callbacks get <c>OnTrainEnd</c>, and the task ends canceled (awaiting it throws
    /// <see cref="OperationCanceledException"/>); <see cref="History"/> keeps the epochs finished, and <c>Fit</c> may be called
    /// again (resume with <c>initialEpoch</c>). A token already cancelled starts nothing. Arguments that need no tensor are
    /// checked before the task starts; the tensors must stay undisposed until it ends. Callbacks and
    /// <paramref name="progress"/>'s <see cref="IProgress{T}.Report"/> run on the worker thread.
    /// </remarks>
    /// <exception cref="ArgumentException">A scalar argument out of range (thrown at once, not through the task).</exception>
    public Task<History> FitAsync(Tensor x, Tensor y, int batchSize = 32, int epochs = 1, Verbose verbose = default,
        IEnumerable<Callback>? callbacks = null, double validationSplit = 0.0, ValidationData? validationData = null,
        bool shuffle = true, IReadOnlyDictionary<int, double>? classWeight = null, Tensor? sampleWeight = null,
        int initialEpoch = 0, int? stepsPerEpoch = null, int? validationBatchSize = null, int validationFreq = 1,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        return FitAsync([x], [y], batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle, classWeight,
            sampleWeight, initialEpoch, stepsPerEpoch, validationBatchSize, validationFreq, progress, cancellationToken);
    }

    /// <summary><c>FitAsync</c> for models with several inputs and/or outputs: one tensor per input and per output.</summary>
    /// <inheritdoc cref="FitAsync(Tensor, Tensor, int, int, Verbose, IEnumerable{Callback}?, double, ValidationData?, bool, IReadOnlyDictionary{int, double}?, Tensor?, int, int?, int?, int, IProgress{TrainingProgress}?, CancellationToken)" path="/remarks"/>
    public Task<History> FitAsync(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize = 32, int epochs = 1,
        Verbose verbose = default, IEnumerable<Callback>? callbacks = null, double validationSplit = 0.0,
        ValidationData? validationData = null, bool shuffle = true, IReadOnlyDictionary<int, double>? classWeight = null,
        Tensor? sampleWeight = null, int initialEpoch = 0, int? stepsPerEpoch = null, int? validationBatchSize = null,
        int validationFreq = 1, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        BuiltNetwork.CheckBatchSize(batchSize);
        if (validationBatchSize is { } v) BuiltNetwork.CheckBatchSize(v, nameof(validationBatchSize));
        CheckFitArguments(epochs, initialEpoch, validationFreq, stepsPerEpoch);
        CheckSplitArguments(validationSplit, validationData);
        var xs = x.ToList();
        var ys = y.ToList();
        return Worker.Run(() => FitTensors(xs, ys, batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle,
            classWeight, sampleWeight, initialEpoch, stepsPerEpoch, validationBatchSize, validationFreq, cancellationToken, progress),
            dedicated: true, cancellationToken);
    }

    /// <summary><c>FitAsync</c> on a batch source (e.g. <c>ImageDataGenerator.Flow</c>).</summary>
    /// <inheritdoc cref="FitAsync(Tensor, Tensor, int, int, Verbose, IEnumerable{Callback}?, double, ValidationData?, bool, IReadOnlyDictionary{int, double}?, Tensor?, int, int?, int?, int, IProgress{TrainingProgress}?, CancellationToken)" path="/remarks"/>
    public Task<History> FitAsync(IBatchSource data, int epochs = 1, Verbose verbose = default, IEnumerable<Callback>? callbacks = null,
        IBatchSource? validationData = null, int initialEpoch = 0, IReadOnlyDictionary<int, double>? classWeight = null,
        int validationFreq = 1, int? stepsPerEpoch = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckFitArguments(epochs, initialEpoch, validationFreq, stepsPerEpoch);
        return Worker.Run(() =>
        {
            lock (trackers)
                return FitCore(data, epochs, verbose, callbacks, validationData, initialEpoch, classWeight, validationFreq, stepsPerEpoch,
                    cancellationToken, progress);
        }, dedicated: true, cancellationToken);
    }

    /// <summary>
    /// <see cref="Evaluate(Tensor, Tensor, int, Verbose, Tensor?, IEnumerable{Callback}?)"/> on a worker thread, stopping
    /// between batches when <paramref name="cancellationToken"/> is cancelled; <paramref name="progress"/> hears of each batch.
    /// </summary>
    /// <remarks>
    /// Evaluation changes no weight, so cancelling it leaves the model as it was. It shares the metric trackers with fit: it
    /// waits while a fit of this model runs (do not block on it from inside that fit's callbacks; call <c>Evaluate</c> there).
    /// The tensors must stay undisposed until the task ends.
    /// </remarks>
    public Task<IReadOnlyDictionary<string, double>> EvaluateAsync(Tensor x, Tensor y, int batchSize = 32, Verbose verbose = default,
        Tensor? sampleWeight = null, IEnumerable<Callback>? callbacks = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        return EvaluateAsync([x], [y], batchSize, verbose, sampleWeight, callbacks, progress, cancellationToken);
    }

    /// <summary><c>EvaluateAsync</c> for several inputs/outputs.</summary>
    /// <inheritdoc cref="EvaluateAsync(Tensor, Tensor, int, Verbose, Tensor?, IEnumerable{Callback}?, IProgress{TrainingProgress}?, CancellationToken)" path="/remarks"/>
    public Task<IReadOnlyDictionary<string, double>> EvaluateAsync(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize = 32,
        Verbose verbose = default, Tensor? sampleWeight = null, IEnumerable<Callback>? callbacks = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        BuiltNetwork.CheckBatchSize(batchSize);
        var xs = x.ToList();
        var ys = y.ToList();
        return Worker.Run(() => EvaluateTensors(xs, ys, batchSize, verbose, sampleWeight, callbacks, cancellationToken, progress),
            dedicated: false, cancellationToken);
    }

    /// <summary><c>EvaluateAsync</c> on a batch source.</summary>
    /// <inheritdoc cref="EvaluateAsync(Tensor, Tensor, int, Verbose, Tensor?, IEnumerable{Callback}?, IProgress{TrainingProgress}?, CancellationToken)" path="/remarks"/>
    public Task<IReadOnlyDictionary<string, double>> EvaluateAsync(IBatchSource data, Verbose verbose = default,
        IEnumerable<Callback>? callbacks = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Worker.Run(() =>
        {
            lock (trackers) return EvaluateUnlocked(data, verbose, callbacks, cancellationToken, progress);
        }, dedicated: false, cancellationToken);
    }

    /// <summary>Keras's <c>predict</c> on a worker thread; see <see cref="TrainingAsyncExtensions.PredictAsync(BuiltNetwork, Tensor, int, IProgress{TrainingProgress}?, CancellationToken)"/>.</summary>
    public Task<Tensor> PredictAsync(Tensor x, int batchSize = 32, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        Network.PredictAsync(x, batchSize, progress, cancellationToken);

    /// <summary>Keras's <c>predict</c> for several inputs/outputs on a worker thread; one CPU tensor per output.</summary>
    public Task<IReadOnlyList<Tensor>> PredictAsync(IReadOnlyList<Tensor> x, int batchSize = 32, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        Network.PredictAsync(x, batchSize, progress, cancellationToken);
}

/// <summary>The asynchronous training entry points on built networks (they use the latest <c>Compile</c>, as <c>Fit</c> does).</summary>
public static class TrainingAsyncExtensions
{
    /// <summary><see cref="CompiledModel.FitAsync(Tensor, Tensor, int, int, Verbose, IEnumerable{Callback}?, double, ValidationData?, bool, IReadOnlyDictionary{int, double}?, Tensor?, int, int?, int?, int, IProgress{TrainingProgress}?, CancellationToken)"/> on the compiled network.</summary>
    /// <exception cref="InvalidOperationException">The network was not compiled.</exception>
    public static Task<History> FitAsync(this BuiltNetwork network, Tensor x, Tensor y, int batchSize = 32, int epochs = 1,
        Verbose verbose = default, IEnumerable<Callback>? callbacks = null, double validationSplit = 0.0,
        ValidationData? validationData = null, bool shuffle = true, IReadOnlyDictionary<int, double>? classWeight = null,
        Tensor? sampleWeight = null, int initialEpoch = 0, int? stepsPerEpoch = null, int? validationBatchSize = null,
        int validationFreq = 1, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        network.GetCompiled().FitAsync(x, y, batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle,
            classWeight, sampleWeight, initialEpoch, stepsPerEpoch, validationBatchSize, validationFreq, progress, cancellationToken);

    /// <summary><see cref="CompiledModel.EvaluateAsync(Tensor, Tensor, int, Verbose, Tensor?, IEnumerable{Callback}?, IProgress{TrainingProgress}?, CancellationToken)"/> on the compiled network.</summary>
    /// <exception cref="InvalidOperationException">The network was not compiled.</exception>
    public static Task<IReadOnlyDictionary<string, double>> EvaluateAsync(this BuiltNetwork network, Tensor x, Tensor y, int batchSize = 32,
        Verbose verbose = default, Tensor? sampleWeight = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        network.GetCompiled().EvaluateAsync(x, y, batchSize, verbose, sampleWeight, null, progress, cancellationToken);

    /// <summary>
    /// <see cref="BuiltNetwork.Predict(Tensor, int)"/> on a thread-pool thread: inference in batches, stopping between batches
    /// when <paramref name="cancellationToken"/> is cancelled (the partial outputs are released); <paramref name="progress"/>
    /// hears of each batch. Needs no <c>Compile</c>.
    /// </summary>
    /// <remarks>
    /// Safe alongside any number of other predictions and a running fit (each call sees the weights between two steps). The
    /// returned CPU tensor belongs to the caller and to no dispose scope (it is made on another thread: dispose it, or attach
    /// it to a scope of yours); <paramref name="x"/> must stay undisposed until the task ends.
    /// </remarks>
    /// <exception cref="ArgumentException">A non-positive batch size (thrown at once, not through the task).</exception>
    public static Task<Tensor> PredictAsync(this BuiltNetwork network, Tensor x, int batchSize = 32,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x);
        var outputs = network.Declaration.OutputShapes.Count;
        if (outputs != 1)
            throw new InvalidOperationException($"Model '{network.Declaration.Name}' has {outputs} outputs; call PredictAsync with a list.");
        return Only(network.PredictAsync([x], batchSize, progress, cancellationToken));

        static async Task<Tensor> Only(Task<IReadOnlyList<Tensor>> all) => (await all.ConfigureAwait(false))[0];
    }

    /// <summary>Inference for several inputs/outputs on a thread-pool thread; one CPU tensor per output.</summary>
    /// <inheritdoc cref="PredictAsync(BuiltNetwork, Tensor, int, IProgress{TrainingProgress}?, CancellationToken)" path="/remarks"/>
    public static Task<IReadOnlyList<Tensor>> PredictAsync(this BuiltNetwork network, IReadOnlyList<Tensor> x, int batchSize = 32,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x);
        BuiltNetwork.CheckBatchSize(batchSize);
        var xs = x.ToList();
        return Worker.Run(() =>
        {
            var result = network.Predict(xs, batchSize, cancellationToken,
                progress is null ? null : (step, steps) => progress.Report(TrainingProgress.Predicted(step, steps)));
            // A scope the worker thread was left in by other code must not own the caller's results.
            foreach (var t in result) t.DetachFromDisposeScope();
            return result;
        }, dedicated: false, cancellationToken);
    }
}

/// <summary>Runs work off the caller's thread for the async entry points.</summary>
internal static class Worker
{
    /// <summary>
    /// <paramref name="work"/> on a dedicated thread (long work: fit) or a thread-pool thread. A token cancelled already gives
    /// a canceled task without running anything; an <see cref="OperationCanceledException"/> for the token ends it canceled.
    /// </summary>
    public static Task<T> Run<T>(Func<T> work, bool dedicated, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<T>(cancellationToken);
        var options = TaskCreationOptions.DenyChildAttach | (dedicated ? TaskCreationOptions.LongRunning : TaskCreationOptions.None);
        return Task.Factory.StartNew(work, cancellationToken, options, TaskScheduler.Default);
    }
}
