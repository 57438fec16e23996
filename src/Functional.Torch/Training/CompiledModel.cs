using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Training;

/// <summary>
/// A built network with its training configuration (Keras's compiled model): optimizer, loss per output, metrics. It runs
/// Keras's <c>fit</c>, <c>evaluate</c>, <c>predict</c> and <c>train_on_batch</c>. Create it with
/// <c>network.Compile(…)</c> (<see cref="TrainingExtensions"/>); the network's <c>Fit</c>/<c>Evaluate</c> extension methods use the latest one.
/// </summary>
/// <remarks>
/// Each step runs in its own dispose scope, so native memory stays flat across steps. The reported <c>loss</c> includes the
/// regularization penalties, as Keras's does, and is the batch-size-weighted mean over the epoch so far; metrics are
/// computed on the training-mode predictions of each batch, as in Keras.
/// <para>Thread safety: predict may run on any number of threads at once, also while a fit runs (each call sees the weights
/// between two steps). Fit, evaluate and train-on-batch share the metric trackers, so on one compiled model they run one
/// at a time (a second call waits). The <c>…Async</c> methods run the same code on a worker thread and stop between
/// batches when their token is cancelled. See docs/thread-safety.md.</para>
/// </remarks>
public sealed partial class CompiledModel : ICompilation
{
    private readonly Mean lossTracker = new("loss");
    // Fit, evaluate and train-on-batch share the metric trackers, so one runs at a time per compiled model (others wait);
    // predict uses none and only takes the network's read lease. Reentrant, so callbacks on the same thread may evaluate.
    private readonly object trackers = new();
    private readonly List<(int Output, Metric Metric)> metrics;
    private readonly List<WeightBinding> trainable;

    internal CompiledModel(BuiltNetwork network, Optimizer optimizer, IReadOnlyList<Loss> losses, IReadOnlyList<double>? lossWeights,
        IReadOnlyList<IReadOnlyList<Metric>> metricsPerOutput, long? seed = null)
    {
        Network = network;
        Optimizer = optimizer;
        var outputs = network.Declaration.OutputShapes.Count;
        if (losses.Count == 1 && outputs > 1) losses = Enumerable.Repeat(losses[0], outputs).ToList();
        if (losses.Count != outputs)
            throw new ArgumentException($"Model '{network.Declaration.Name}' has {outputs} outputs but {losses.Count} losses were given; give one loss, or one per output.", nameof(losses));
        Losses = losses;
        LossWeights = lossWeights?.ToList() ?? Enumerable.Repeat(1.0, outputs).ToList();
        if (LossWeights.Count != outputs)
            throw new ArgumentException($"Expected {outputs} loss weights (one per output); received {LossWeights.Count}.", nameof(lossWeights));
        if (metricsPerOutput.Count == 1 && outputs > 1)
        {
            if (metricsPerOutput[0].Count > 0)
                throw new ArgumentException($"Model '{network.Declaration.Name}' has {outputs} outputs: give one list of metrics per output (metrics accumulate state, so outputs cannot share them).", nameof(metricsPerOutput));
            metricsPerOutput = Enumerable.Repeat(metricsPerOutput[0], outputs).ToList();
        }
        if (metricsPerOutput.Count != outputs)
            throw new ArgumentException($"Model '{network.Declaration.Name}' has {outputs} outputs but {metricsPerOutput.Count} metric lists were given.", nameof(metricsPerOutput));
        metrics = metricsPerOutput.SelectMany((list, i) => list.Select(m => (i, m))).ToList();
        if (metrics.Select(m => m.Metric).Distinct().Count() != metrics.Count)
            throw new ArgumentException("Each output needs its own metric objects (a metric accumulates state); pass names or separate instances.", nameof(metricsPerOutput));
        trainable = network.Weights.Where(w => w.Trainable).ToList();
        Optimizer.Build(trainable.Select(w => w.Parameter));
        // Without a seed, one draw from torch's global generator, so torch.manual_seed before Compile still makes runs repeat.
        if (seed is null) using (var draw = torch.randint(long.MaxValue, [1], dtype: ScalarType.Int64)) seed = draw.item<long>();
        Generator = new Generator(unchecked((ulong)seed.Value));
    }

    /// <summary>
    /// This model's random generator (Keras's <c>SeedGenerator</c>): it shuffles <c>fit</c>'s samples and draws the masks of
    /// unseeded Dropout layers in training, so a model's training never depends on other threads' use of torch's global
    /// generator. Seeded by Compile's <c>seed</c> (or one draw from the global generator); its state is saved in checkpoints.
    /// </summary>
    public Generator Generator { get; private set; }

    /// <summary>
    /// Restarts <see cref="Generator"/> from <paramref name="seed"/>. Called while <c>Fit</c>, <c>Evaluate</c> or
    /// <c>TrainOnBatch</c> runs on another thread, it waits for that call to end (the generator it uses stays valid).
    /// From a callback of a running fit, the new generator draws the following steps' Dropout masks, and the fit's
    /// dataset keeps shuffling with the old one until the fit ends.
    /// </summary>
    public void Reseed(long seed)
    {
        var inFit = System.Threading.Monitor.IsEntered(trackers);   // a callback of a fit on this thread: the old generator is in use
        lock (trackers)
        {
            var old = Generator;
            Generator = new Generator(unchecked((ulong)seed));
            if (!inFit) old.Dispose();
        }
    }

    /// <summary>The network trained.</summary>
    public BuiltNetwork Network { get; }
    /// <summary>The optimizer (its state lives as long as this model).</summary>
    public Optimizer Optimizer { get; }
    /// <summary>One loss per model output.</summary>
    public IReadOnlyList<Loss> Losses { get; }
    /// <summary>Multipliers of the per-output losses in the total.</summary>
    public IReadOnlyList<double> LossWeights { get; }
    /// <summary>The compiled metrics (excluding the loss).</summary>
    public IReadOnlyList<Metric> Metrics => metrics.Select(m => m.Metric).ToList();
    /// <summary>Set by a callback to stop <c>fit</c> after the current batch.</summary>
    public bool StopTraining { get; set; }
    /// <summary>The history of the latest <c>fit</c> (also of one that was cancelled: the epochs it finished).</summary>
    public History? History { get; private set; }

    /// <summary>
    /// Where fit and evaluate report, when set: a <see cref="LoggingCallback"/> on this logger replaces the console progress
    /// bar (epochs at Information, batches at Debug), and the built-in callbacks (EarlyStopping, ModelCheckpoint, …) write
    /// their messages to it instead of the console. Null (the default): Keras's console output. <c>verbose: 0</c> silences
    /// the fit log either way.
    /// </summary>
    public ILogger? Logger { get; set; }
    /// <summary>The trainable weights, in the optimizer's order.</summary>
    public IReadOnlyList<WeightBinding> TrainableWeights => trainable;

    private string MetricKey(int output, Metric m) =>
        Network.Declaration.OutputShapes.Count > 1 ? $"output_{output}_{m.Name}" : m.Name;

    // ---------------------------------------------------------------- fit

    /// <summary>
    /// Keras's <c>fit</c> on in-memory tensors: <paramref name="x"/> batch-first in the model's input layout, <paramref name="y"/>
    /// targets for the loss. <paramref name="validationSplit"/> holds out the last fraction of samples (before shuffling, as
    /// Keras does); <paramref name="classWeight"/> turns class indices (or one-hot rows) into per-sample weights.
    /// </summary>
    public History Fit(Tensor x, Tensor y, int batchSize = 32, int epochs = 1, Verbose verbose = default,
        IEnumerable<Callback>? callbacks = null, double validationSplit = 0.0, ValidationData? validationData = null,
        bool shuffle = true, IReadOnlyDictionary<int, double>? classWeight = null, Tensor? sampleWeight = null,
        int initialEpoch = 0, int? stepsPerEpoch = null, int? validationBatchSize = null, int validationFreq = 1) =>
        Fit([x], [y], batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle, classWeight, sampleWeight,
            initialEpoch, stepsPerEpoch, validationBatchSize, validationFreq);

    /// <summary>Keras's <c>fit</c> for models with several inputs and/or outputs: one tensor per input and per output.</summary>
    public History Fit(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize = 32, int epochs = 1, Verbose verbose = default,
        IEnumerable<Callback>? callbacks = null, double validationSplit = 0.0, ValidationData? validationData = null,
        bool shuffle = true, IReadOnlyDictionary<int, double>? classWeight = null, Tensor? sampleWeight = null,
        int initialEpoch = 0, int? stepsPerEpoch = null, int? validationBatchSize = null, int validationFreq = 1) =>
        FitTensors(x, y, batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle, classWeight, sampleWeight,
            initialEpoch, stepsPerEpoch, validationBatchSize, validationFreq, CancellationToken.None, null);

    // The arguments fit can check without touching a tensor, so that the async methods refuse them before starting work.
    private static void CheckFitArguments(int epochs, int initialEpoch, int validationFreq, int? stepsPerEpoch)
    {
        if (epochs < 0) throw new ArgumentException($"Expected argument 'epochs' to be >= 0. Received: epochs={epochs}.", nameof(epochs));
        if (initialEpoch < 0) throw new ArgumentException($"Expected argument 'initialEpoch' to be >= 0. Received: initialEpoch={initialEpoch}.", nameof(initialEpoch));
        if (validationFreq < 1) throw new ArgumentException($"Expected argument 'validationFreq' to be a positive integer. Received: validationFreq={validationFreq}.", nameof(validationFreq));
        if (stepsPerEpoch is <= 0) throw new ArgumentException($"Expected argument 'stepsPerEpoch' to be a positive integer. Received: stepsPerEpoch={stepsPerEpoch}.", nameof(stepsPerEpoch));
    }

    private static void CheckSplitArguments(double validationSplit, ValidationData? validationData)
    {
        if (!double.IsFinite(validationSplit) || validationSplit is < 0 or >= 1)
            throw new ArgumentException($"Expected argument 'validationSplit' to be a float in [0, 1). Received: validationSplit={validationSplit.ToString(CultureInfo.InvariantCulture)}.", nameof(validationSplit));
        if (validationSplit > 0 && validationData is not null)
            throw new ArgumentException("Give either 'validationSplit' or 'validationData', not both.", nameof(validationData));
    }

    private History FitTensors(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize, int epochs, Verbose verbose,
        IEnumerable<Callback>? callbacks, double validationSplit, ValidationData? validationData, bool shuffle,
        IReadOnlyDictionary<int, double>? classWeight, Tensor? sampleWeight, int initialEpoch, int? stepsPerEpoch,
        int? validationBatchSize, int validationFreq, CancellationToken cancellationToken, IProgress<TrainingProgress>? progress)
    {
        CheckCounts(x, y);
        CheckSplitArguments(validationSplit, validationData);
        var owned = new List<Tensor>();
        try
        {
            var trainX = x; var trainY = y; var trainW = sampleWeight;
            if (validationSplit > 0)
            {
                var n = x[0].shape[0];
                var splitAt = (long)Math.Floor(n * (1.0 - validationSplit));
                if (splitAt == 0 || splitAt == n)
                    throw new ArgumentException($"validationSplit={validationSplit.ToString(CultureInfo.InvariantCulture)} of {n} samples leaves no training or no validation samples.", nameof(validationSplit));
                Tensor Take(Tensor t, long start, long len) { var v = t.narrow(0, start, len); owned.Add(v); return v; }
                trainX = x.Select(t => Take(t, 0, splitAt)).ToList();
                trainY = y.Select(t => Take(t, 0, splitAt)).ToList();
                trainW = sampleWeight is null ? null : Take(sampleWeight, 0, splitAt);
                validationData = new ValidationData(x.Select(t => Take(t, splitAt, n - splitAt)).ToList(),
                    y.Select(t => Take(t, splitAt, n - splitAt)).ToList(), sampleWeight is null ? null : Take(sampleWeight, splitAt, n - splitAt));
            }
            else if (validationData is not null)
            {
                // Checked now, as Keras does not: a mistake in the validation data would otherwise surface only after a
                // whole epoch had changed the weights.
                var n = Network.CheckInputs(validationData.X, nameof(validationData));
                var outputs = Network.Declaration.OutputShapes;
                if (validationData.Y.Count != outputs.Count)
                    throw new ArgumentException($"Model '{Network.Declaration.Name}' has {outputs.Count} outputs but 'validationData' has {validationData.Y.Count} targets.", nameof(validationData));
                for (var i = 0; i < outputs.Count; i++)
                {
                    if (validationData.Y[i] is null || validationData.Y[i].dim() == 0 || validationData.Y[i].shape[0] != n)
                        throw new ArgumentException($"'validationData' has {n} samples of inputs but its target {i} does not have {n} rows.", nameof(validationData));
                    if (outputs[i].IsFullyKnown) Losses[i].CheckTargets(validationData.Y[i], outputs[i].WithBatch(n));
                }
            }
            lock (trackers)   // also keeps Reseed from replacing the generator the dataset shuffles with
            {
                var train = new TensorDataset(trainX, trainY, batchSize, shuffle, trainW) { Generator = Generator };
                if (train.Count == 0)
                    throw new ArgumentException("Expected input data to be non-empty: 'x' has 0 samples, so there is nothing to train on.", nameof(x));
                IBatchSource? val = validationData is null ? null
                    : new TensorDataset(validationData.X, validationData.Y, validationBatchSize ?? batchSize, false, validationData.SampleWeight);
                return FitCore(train, epochs, verbose, callbacks, val, initialEpoch, classWeight, validationFreq, stepsPerEpoch,
                    cancellationToken, progress);
            }
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    /// <summary>
    /// Keras's <c>fit</c> on a batch source (e.g. <c>ImageDataGenerator.Flow</c>): <paramref name="stepsPerEpoch"/> defaults to
    /// the source's own count.
    /// </summary>
    public History Fit(IBatchSource data, int epochs = 1, Verbose verbose = default, IEnumerable<Callback>? callbacks = null,
        IBatchSource? validationData = null, int initialEpoch = 0, IReadOnlyDictionary<int, double>? classWeight = null,
        int validationFreq = 1, int? stepsPerEpoch = null)
    {
        lock (trackers)
            return FitCore(data, epochs, verbose, callbacks, validationData, initialEpoch, classWeight, validationFreq, stepsPerEpoch,
                CancellationToken.None, null);
    }

    /// <summary>
    /// The fit loop. <paramref name="cancellationToken"/> is checked before each epoch and each batch (training and
    /// validation), never inside a step: on cancellation the steps taken are kept whole, the epoch in progress gets no
    /// <c>OnEpochEnd</c> (and no History entry), callbacks get <c>OnTrainEnd</c>, and <see cref="OperationCanceledException"/>
    /// is thrown. <paramref name="progress"/> hears of each training batch and each finished epoch, on this thread, in order.
    /// </summary>
    private History FitCore(IBatchSource data, int epochs, Verbose verbose, IEnumerable<Callback>? callbacks,
        IBatchSource? validationData, int initialEpoch, IReadOnlyDictionary<int, double>? classWeight, int validationFreq, int? stepsPerEpoch,
        CancellationToken cancellationToken, IProgress<TrainingProgress>? progress)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckFitArguments(epochs, initialEpoch, validationFreq, stepsPerEpoch);
        if (classWeight is not null && Network.Declaration.OutputShapes.Count != 1)
            throw new ArgumentException("`classWeight` is only supported for models with a single output.", nameof(classWeight));
        var steps = stepsPerEpoch ?? data.StepsPerEpoch;
        if (steps <= 0)
            throw new ArgumentException($"Expected the training data to have batches. Received a {data.GetType().Name} with StepsPerEpoch={steps}.", nameof(data));
        var level = verbose.Resolve();
        var history = new History();
        var all = new List<Callback>(callbacks ?? []) { history };
        // The fit log: to the logger when one is set (never the console then), else Keras's progress bar.
        var logger = Logger;
        if (level > 0 && logger is not null && !all.OfType<LoggingCallback>().Any()) all.Add(new LoggingCallback(logger));
        else if (level > 0 && logger is null && !all.OfType<ProgbarLogger>().Any()) all.Add(new ProgbarLogger(level));
        var list = new CallbackList(all);
        list.SetContext(this, new Dictionary<string, int> { ["epochs"] = epochs, ["steps"] = steps, ["verbose"] = level });
        History = history;
        StopTraining = false;
        var epochLogs = new Dictionary<string, double>(StringComparer.Ordinal);
        var epoch = initialEpoch;
        var step = 0;
        list.TrainBegin(new Dictionary<string, double>());
        try
        {
            for (; epoch < epochs && !StopTraining; epoch++)
            {
                step = 0;
                cancellationToken.ThrowIfCancellationRequested();
                ResetMetrics();
                list.EpochBegin(epoch, new Dictionary<string, double>());
                var logs = new Dictionary<string, double>(StringComparer.Ordinal);
                using (var batches = BatchesOf(data, epoch))
                {
                    while (step < steps && !StopTraining)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        using (var scope = NewDisposeScope())
                        {
                            if (!batches.MoveNext()) break;
                            list.BatchBegin(step, new Dictionary<string, double> { ["batch"] = step });
                            var b = batches.Current;
                            var weight = b.SampleWeight;
                            if (classWeight is not null)
                            {
                                if (weight is not null)
                                    throw new ArgumentException("You cannot use `classWeight` and `sampleWeight` at the same time.", nameof(classWeight));
                                weight = ClassWeights(b.Targets[0], classWeight);
                            }
                            TrainStep(b.Inputs, b.Targets, weight);
                        }
                        logs = CurrentLogs();
                        list.BatchEnd(step, logs);
                        step++;
                        progress?.Report(new TrainingProgress(ProgressStage.TrainBatch, epoch, epochs, step, steps, TrainingProgress.Copy(logs)));
                    }
                }
                if (step == 0)
                    throw new InvalidOperationException($"The training data produced no batches in epoch {epoch + 1}; check that it is not empty.");
                epochLogs = new Dictionary<string, double>(logs, StringComparer.Ordinal);
                if (validationData is not null && (epoch + 1) % validationFreq == 0 && !StopTraining)
                {
                    var val = EvaluateCore(validationData, null, cancellationToken, null);
                    foreach (var (k, v) in val) epochLogs["val_" + k] = v;
                }
                list.EpochEnd(epoch, epochLogs);
                progress?.Report(new TrainingProgress(ProgressStage.Epoch, epoch, epochs, step, steps, TrainingProgress.Copy(epochLogs)));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Between two batches: every step taken is whole. Callbacks still get their end (a progress bar closes its line,
            // EarlyStopping may restore its best weights), with the last finished epoch's logs.
            logger?.Log(LogLevel.Information, LoggingCallback.Events.Cancelled,
                "Training {Model} cancelled in epoch {Epoch}/{Epochs} after {Step} of {Steps} steps", Network.Declaration.Name, epoch + 1, epochs, step, steps);
            list.TrainEnd(epochLogs);
            throw;
        }
        list.TrainEnd(epochLogs);
        return history;
    }

    // A user's IBatchSource may hand back null; say so instead of a NullReferenceException deep in the loop.
    private static IEnumerator<Batch> BatchesOf(IBatchSource data, int epoch) =>
        (data.Batches(epoch) ?? throw new InvalidOperationException($"{data.GetType().Name}.Batches({epoch}) returned null instead of a sequence of batches."))
            .GetEnumerator()
        ?? throw new InvalidOperationException($"{data.GetType().Name}.Batches({epoch}) gave a null enumerator.");

    private void CheckCounts(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        Network.RequireInputs(x);
        for (var i = 0; i < y.Count; i++)
            if (y[i] is { IsInvalid: true })
                throw new ObjectDisposedException(nameof(Tensor), $"Target {i} of model '{Network.Declaration.Name}' is a disposed tensor.");
    }

    /// <summary>Keras's class weights: per sample, the weight of its class (argmax of one-hot rows, else the label); 1 for unlisted classes.</summary>
    public static Tensor ClassWeights(Tensor target, IReadOnlyDictionary<int, double> classWeight)
    {
        var labels = target.dim() > 1 && target.shape[^1] != 1 ? target.argmax(-1)
            : target.dim() > 1 ? target.squeeze(-1) : target;
        if (labels.is_floating_point()) labels = labels.round();
        var ints = labels.to_type(ScalarType.Int64).cpu();
        if (ints.dim() > 1) throw new ArgumentException("`classWeight` not supported for targets of rank 3 or more.", nameof(target));
        var max = Math.Max(ints.numel() == 0 ? 0 : ints.max().item<long>(), classWeight.Count == 0 ? 0 : classWeight.Keys.Max());
        var table = Enumerable.Repeat(1.0f, (int)max + 1).ToArray();
        foreach (var (k, v) in classWeight)
            if (k >= 0) table[k] = (float)v;
        var lookup = torch.tensor(table);
        return lookup.index_select(0, ints.clamp_min(0)).to(target.device);
    }

    /// <summary>One optimizer step on a batch (Keras's <c>train_on_batch</c> without resetting metrics); returns the batch loss.</summary>
    /// <remarks>
    /// The step runs in training mode for this call only (the network's module mode is left alone) and holds the network's
    /// write lease: predict and evaluate calls on other threads wait for it, and see the weights before or after the step.
    /// </remarks>
    /// <exception cref="ArgumentException">Inputs or targets that do not fit the model, or 0 samples (nothing changes then).</exception>
    public double TrainStep(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> targets, Tensor? sampleWeight = null)
    {
        lock (trackers) return TrainStepCore(inputs, targets, sampleWeight);
    }

    private double TrainStepCore(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> targets, Tensor? sampleWeight)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (Network.SampleCount(inputs, "x") == 0)   // also refuses null inputs, naming them
            throw new ArgumentException("Expected input data to be non-empty: 'x' has 0 samples, so there is no step to take.", nameof(inputs));
        using var writing = Network.WriteLease();
        using var scope = NewDisposeScope();
        var (xs, ys, sw) = CheckAndPlace(inputs, targets, sampleWeight);
        var (value, outputs) = Network.TrainingStep(xs, new ForwardContext(true, Generator),
            outputs => TotalLoss(ys, InFloat32(outputs), sw),
            // A LossScaleOptimizer scales the loss up before the gradients (and its Apply scales them back down).
            loss =>
            {
                Optimizer.ScaleLoss(loss).backward();
                Optimizer.Apply(trainable.Select(w => w.Parameter.grad).ToList());
            });
        lossTracker.UpdateValue(value, inputs[0].shape[0]);
        using (no_grad())
        {
            var predictions = InFloat32(outputs);
            foreach (var (o, m) in metrics) m.UpdateState(ys[o], predictions[o].detach(), sw);
        }
        return value;
    }

    // Keras computes losses and metrics in float32: the 16-bit outputs of a float16/bfloat16 (or mixed) model are cast up
    // first (in the call's dispose scope). float32 and float64 outputs are used as they are.
    private static IReadOnlyList<Tensor> InFloat32(IReadOnlyList<Tensor> outputs)
    {
        if (!outputs.Any(o => o.dtype is ScalarType.Float16 or ScalarType.BFloat16)) return outputs;
        return outputs.Select(o => o.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? o.to_type(ScalarType.Float32) : o).ToList();
    }

    /// <summary>Keras's <c>train_on_batch</c>: one step; returns the loss and metrics of that batch alone.</summary>
    public IReadOnlyDictionary<string, double> TrainOnBatch(Tensor x, Tensor y, Tensor? sampleWeight = null)
    {
        lock (trackers)
        {
            ResetMetrics();
            TrainStepCore([x], [y], sampleWeight);
            return CurrentLogs();
        }
    }

    /// <summary>
    /// Checks a batch's targets where they are (the host, for fit's batches) against the declared outputs — counts, then
    /// each loss's <see cref="Loss.CheckTargets"/> — before anything runs on the device; then places the batch on it.
    /// </summary>
    private (List<Tensor> Inputs, List<Tensor> Targets, Tensor? SampleWeight) CheckAndPlace(
        IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> targets, Tensor? sampleWeight)
    {
        Network.RequireInputs(inputs);
        var outputs = Network.Declaration.OutputShapes;
        if (targets.Count != outputs.Count)
            throw new ArgumentException($"Model '{Network.Declaration.Name}' has {outputs.Count} outputs but {targets.Count} targets were given.");
        var batch = inputs.Count > 0 && inputs[0].dim() > 0 ? inputs[0].shape[0] : 0;
        // An output with unknown dimensions is checked against the real predictions instead (see TargetsChecked).
        for (var i = 0; i < targets.Count; i++)
            if (outputs[i].IsFullyKnown) Losses[i].CheckTargets(targets[i], outputs[i].WithBatch(batch));
        var device = Network.Device;
        return (inputs.Select(device.Place).ToList(), targets.Select(device.Place).ToList(),
            sampleWeight is null ? null : device.Place(sampleWeight));
    }

    /// <summary>The weighted sum of the per-output losses; targets have passed <see cref="CheckAndPlace"/> (counts and values).</summary>
    private Tensor TotalLoss(IReadOnlyList<Tensor> targets, IReadOnlyList<Tensor> predictions, Tensor? sampleWeight)
    {
        Tensor? total = null;
        for (var i = 0; i < predictions.Count; i++)
        {
            var l = Losses[i].Compute(targets[i], predictions[i], sampleWeight, targetsChecked: Network.Declaration.OutputShapes[i].IsFullyKnown);
            if (l.dim() > 0) l = l.mean();
            l = LossWeights[i] == 1.0 ? l : l * LossWeights[i];
            total = total is null ? l : total + l;
        }
        return total!;
    }

    private void ResetMetrics()
    {
        lossTracker.ResetState();
        foreach (var (_, m) in metrics) m.ResetState();
    }

    private Dictionary<string, double> CurrentLogs()
    {
        var logs = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (o, m) in metrics) logs[MetricKey(o, m)] = m.Result();
        logs["loss"] = lossTracker.Result();
        return logs;
    }

    // ---------------------------------------------------------------- evaluate / predict

    /// <summary>Keras's <c>evaluate</c> (as <c>return_dict=True</c>): the loss and metrics over all of <paramref name="x"/>, in inference mode.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(Tensor x, Tensor y, int batchSize = 32, Verbose verbose = default,
        Tensor? sampleWeight = null, IEnumerable<Callback>? callbacks = null) =>
        Evaluate([x], [y], batchSize, verbose, sampleWeight, callbacks);

    /// <summary>Keras's <c>evaluate</c> for several inputs/outputs.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize = 32,
        Verbose verbose = default, Tensor? sampleWeight = null, IEnumerable<Callback>? callbacks = null)
    {
        CheckCounts(x, y);
        Network.SampleCount(x, "x");
        return Evaluate(new TensorDataset(x, y, batchSize, false, sampleWeight), verbose, callbacks);
    }

    private IReadOnlyDictionary<string, double> EvaluateTensors(IReadOnlyList<Tensor> x, IReadOnlyList<Tensor> y, int batchSize,
        Verbose verbose, Tensor? sampleWeight, IEnumerable<Callback>? callbacks, CancellationToken cancellationToken, IProgress<TrainingProgress>? progress)
    {
        CheckCounts(x, y);
        Network.SampleCount(x, "x");
        var data = new TensorDataset(x, y, batchSize, false, sampleWeight);
        lock (trackers) return EvaluateUnlocked(data, verbose, callbacks, cancellationToken, progress);
    }

    /// <summary>Keras's <c>evaluate</c> on a batch source.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(IBatchSource data, Verbose verbose = default, IEnumerable<Callback>? callbacks = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        lock (trackers) return EvaluateUnlocked(data, verbose, callbacks, CancellationToken.None, null);
    }

    private IReadOnlyDictionary<string, double> EvaluateUnlocked(IBatchSource data, Verbose verbose, IEnumerable<Callback>? callbacks,
        CancellationToken cancellationToken, IProgress<TrainingProgress>? progress)
    {
        var list = new CallbackList((callbacks ?? []).ToList());
        list.SetContext(this, new Dictionary<string, int> { ["steps"] = data.StepsPerEpoch, ["verbose"] = verbose.Resolve() });
        var clock = Stopwatch.StartNew();
        var logs = EvaluateCore(data, list, cancellationToken, progress);
        var level = verbose.Resolve();
        if (level > 0 && Logger is { } logger)
            LoggingCallback.LogEvaluation(logger, Network.Declaration.Name, data.StepsPerEpoch, clock.Elapsed, logs);
        else if (level > 0)
        {
            var bar = new ProgbarLogger(level);
            bar.EvaluationLine(data.StepsPerEpoch, clock.Elapsed.TotalSeconds, logs);
        }
        return logs;
    }

    // Inference over a batch source; cancellation is checked before each batch.
    private Dictionary<string, double> EvaluateCore(IBatchSource data, CallbackList? callbacks, CancellationToken cancellationToken,
        IProgress<TrainingProgress>? progress)
    {
        if (data.StepsPerEpoch <= 0 || data is TensorDataset { Count: 0 })
            throw new ArgumentException(
                $"Expected input data to be non-empty: the evaluation data has 0 samples (StepsPerEpoch={data.StepsPerEpoch}), so there is no loss to report.", nameof(data));
        // Inference for this call only, under a read lease: the model is not changed, and other evaluate and predict calls
        // may run alongside; a training step waits for it to finish.
        using var reading = Network.ReadLease();
        var context = ForwardContext.Inference;
        ResetMetrics();
        {
            callbacks?.TestBegin(new Dictionary<string, double>());
            var step = 0;
            using var batches = BatchesOf(data, 0);
            while (step < data.StepsPerEpoch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (var scope = NewDisposeScope())
                using (no_grad())
                {
                    if (!batches.MoveNext()) break;
                    var b = batches.Current;
                    var (xs, ys, sw) = CheckAndPlace(b.Inputs, b.Targets, b.SampleWeight);
                    var predictions = InFloat32(Network.Forward(xs, context));
                    var loss = Network.AddRegularization(TotalLoss(ys, predictions, sw), context);
                    lossTracker.UpdateValue(loss.ToSingle(), b.Size);
                    foreach (var (o, m) in metrics) m.UpdateState(ys[o], predictions[o], sw);
                }
                var batchLogs = CurrentLogs();
                callbacks?.TestBatchEnd(step, batchLogs);
                step++;
                progress?.Report(new TrainingProgress(ProgressStage.TestBatch, 0, 1, step, data.StepsPerEpoch, TrainingProgress.Copy(batchLogs)));
            }
            // A source that promised batches and gave none would otherwise report the empty trackers' 0 as its loss.
            if (step == 0)
                throw new ArgumentException($"The evaluation data produced no batches (StepsPerEpoch={data.StepsPerEpoch}); check that it is not empty.", nameof(data));
            var logs = CurrentLogs();
            callbacks?.TestEnd(logs);
            return logs;
        }
    }

    /// <summary>Keras's <c>predict</c>: inference in batches; returns a CPU tensor.</summary>
    public Tensor Predict(Tensor x, int batchSize = 32) => Predict([x], batchSize)[0];

    /// <summary>Keras's <c>predict</c> for several inputs/outputs; one CPU tensor per output.</summary>
    public IReadOnlyList<Tensor> Predict(IReadOnlyList<Tensor> x, int batchSize = 32) => Network.Predict(x, batchSize);

    // ---------------------------------------------------------------- weights and checkpoints

    /// <summary>A copy of every weight and buffer (Keras's <c>get_weights</c>), for <see cref="SetWeights"/>.</summary>
    public WeightSnapshot GetWeights() => WeightSnapshot.Take(Network);

    /// <summary>Puts back weights taken with <see cref="GetWeights"/>.</summary>
    public void SetWeights(WeightSnapshot snapshot) => snapshot.Restore(Network);

    /// <summary>
    /// Writes a checkpoint: every weight (Keras names and layout), the optimizer's state per weight, its step count,
    /// scalar state, the state of <see cref="Generator"/> (so shuffling and Dropout resume exactly), and <paramref name="epoch"/> (the number of completed epochs, to pass as <c>initialEpoch</c> when resuming).
    /// The file's integrity record covers all of it, metadata included.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public void SaveCheckpoint(string path, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        using var reading = Network.ReadLease();   // a consistent set: no step or load runs meanwhile
        var state = WeightLoading.State(Network).ToList();
        var generatorStates = new List<(string, Tensor)> { (GeneratorKey, Generator.get_state()) };
        foreach (var (name, g) in Network.LayerGenerators) generatorStates.Add((LayerGeneratorPrefix + name, g.get_state()));
        try
        {
            var tensors = state.Select(s => (WeightLoading.CheckpointWeightPrefix + s.Name, s.Tensor)).ToList();
            tensors.AddRange(generatorStates);
            for (var i = 0; i < trainable.Count; i++)
                foreach (var slot in Optimizer.SlotNames)
                    tensors.Add((SlotKey(i, slot), Optimizer.Slot(slot, i)));
            var meta = new Dictionary<string, string>
            {
                ["format"] = CheckpointFormat,
                ["model"] = Network.Declaration.Name,
                ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
                ["optimizer"] = Optimizer.ClassName,
                ["iterations"] = Optimizer.Iterations.ToString(CultureInfo.InvariantCulture),
                ["learning_rate"] = Optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            };
            foreach (var (k, v) in Optimizer.ScalarState) meta[ScalarStatePrefix + k] = v.ToString("R", CultureInfo.InvariantCulture);
            SafeTensors.WriteTensors(path, tensors, meta);
        }
        finally
        {
            WeightLoading.Release(state);
            foreach (var (_, t) in generatorStates) t.Dispose();
        }
    }

    // The state of this model's generator (shuffling, Dropout masks), so that a resumed run draws what the unbroken one would.
    private const string GeneratorKey = "random/generator";
    // The states of seeded layers' own generators, under the layer's Keras path.
    private const string LayerGeneratorPrefix = "random/layers/";
    private const string CheckpointFormat = "functional-checkpoint";
    private const string SlotPrefix = "optimizer/";
    private const string ScalarStatePrefix = "optimizer_state/";

    private string SlotKey(int variable, string slot) => $"{SlotPrefix}{trainable[variable].Name}/{slot}";

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> (or <see cref="ModelCheckpoint"/>): weights, optimizer
    /// state, step count, learning rate and the generator's state. Returns the completed epochs, to pass as <c>initialEpoch</c>.
    /// Everything is read and checked first — the file's integrity, every metadata value (parsed and range-checked), every
    /// tensor's name, shape and dtype — and only then applied, so a rejected file leaves the model and optimizer as they were.
    /// </summary>
    /// <exception cref="InvalidDataException">A corrupt or truncated file, a different optimizer, a missing or invalid
    /// metadata value, or weights or optimizer state that do not match the model; the message names the file and the problem.</exception>
    public int LoadCheckpoint(string path)
    {
        using var file = SafeTensors.ReadTensors(path);
        var meta = file.Metadata;

        // 1. Metadata: every value parsed and checked.
        if (!meta.TryGetValue("format", out var format) || format != CheckpointFormat)
            throw new InvalidDataException($"{path}: not a training checkpoint (no format={CheckpointFormat} in its metadata); load weights-only files with LoadWeights.");
        var opt = Required(meta, "optimizer", path);
        if (opt != Optimizer.ClassName)
            throw new InvalidDataException($"{path}: the checkpoint holds {opt} state, but the model is compiled with {Optimizer.ClassName}.");
        var epoch = (int)Count(meta, "epoch", int.MaxValue, path);
        var iterations = Count(meta, "iterations", long.MaxValue, path);
        var rate = Required(meta, "learning_rate", path);
        if (!double.TryParse(rate, NumberStyles.Float, CultureInfo.InvariantCulture, out var learningRate) || !double.IsFinite(learningRate) || learningRate < 0)
            throw new InvalidDataException($"{path}: corrupt metadata: learning_rate='{rate}' is not a finite non-negative number.");
        var scalar = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, text) in meta.Where(kv => kv.Key.StartsWith(ScalarStatePrefix, StringComparison.Ordinal)))
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                throw new InvalidDataException($"{path}: corrupt metadata: {key}='{text}' is not a finite number.");
            scalar[key[ScalarStatePrefix.Length..]] = v;
        }
        var expectedScalars = Optimizer.ScalarState.Keys.ToHashSet(StringComparer.Ordinal);
        var missingScalars = expectedScalars.Where(k => !scalar.ContainsKey(k)).Select(k => ScalarStatePrefix + k).ToList();
        if (missingScalars.Count > 0)
            throw new InvalidDataException($"{path}: corrupt metadata: {Optimizer.ClassName} needs {string.Join(", ", missingScalars)}, which the checkpoint lacks.");
        var unknownScalars = scalar.Keys.Where(k => !expectedScalars.Contains(k)).Select(k => ScalarStatePrefix + k).ToList();
        if (unknownScalars.Count > 0)
            throw new InvalidDataException($"{path}: corrupt metadata: {string.Join(", ", unknownScalars)} is not state of {Optimizer.ClassName}.");

        // 2. Tensors: every name, shape and dtype.
        var weights = file.Tensors.Where(t => t.Name.StartsWith(WeightLoading.CheckpointWeightPrefix, StringComparison.Ordinal))
            .Select(t => t with { Name = t.Name[WeightLoading.CheckpointWeightPrefix.Length..] }).ToList();
        var slots = file.Tensors.Where(t => t.Name.StartsWith(SlotPrefix, StringComparison.Ordinal)).ToDictionary(t => t.Name, StringComparer.Ordinal);
        // Generator states: this model's and each seeded layer's; each checked against the generator it would restore.
        var generators = new Dictionary<string, Generator>(StringComparer.Ordinal) { [GeneratorKey] = Generator };
        foreach (var (name, g) in Network.LayerGenerators) generators[LayerGeneratorPrefix + name] = g;
        var generatorPlan = new List<(Generator Target, StoredTensor Stored)>();
        foreach (var stored in file.Tensors.Where(t => t.Name.StartsWith("random/", StringComparison.Ordinal)))
        {
            if (!generators.TryGetValue(stored.Name, out var target))
                throw new InvalidDataException($"{path}: generator state '{stored.Name}' belongs to no generator of the model (a layer's needs a seeded Dropout of that name).");
            using var current = target.get_state();
            if (stored.DType != "U8" || !stored.Shape.SequenceEqual(current.shape))
                throw new InvalidDataException($"{path}: '{stored.Name}' is {stored.DType} of shape {stored.ShapeText}, but a generator's state is U8 of shape {SafeTensor.ShapeString(current.shape)}.");
            generatorPlan.Add((target, stored));
        }
        var others = file.Tensors.Where(t => !t.Name.StartsWith("random/", StringComparison.Ordinal) && !t.Name.StartsWith(WeightLoading.CheckpointWeightPrefix, StringComparison.Ordinal) && !t.Name.StartsWith(SlotPrefix, StringComparison.Ordinal)).ToList();
        if (others.Count > 0)
            throw new InvalidDataException($"{path}: unexpected tensors in a checkpoint: {string.Join(", ", others.Select(t => t.Name))}.");
        var plan = WeightLoading.Plan(Network, weights, path);
        var slotPlan = new List<(Tensor Target, StoredTensor Stored)>();
        for (var i = 0; i < trainable.Count; i++)
            foreach (var slot in Optimizer.SlotNames)
            {
                var key = SlotKey(i, slot);
                if (!slots.Remove(key, out var stored))
                    throw new InvalidDataException($"{path}: missing optimizer state '{key}'.");
                var target = Optimizer.Slot(slot, i);
                if (!stored.Shape.SequenceEqual(target.shape))
                    throw new InvalidDataException($"{path}: optimizer state '{key}' has shape {stored.ShapeText} but the model needs {SafeTensor.ShapeString(target.shape)}.");
                if (SafeTensors.IsFloat(stored.DType) != target.is_floating_point())
                    throw new InvalidDataException($"{path}: optimizer state '{key}' is stored as {stored.DType}, but the optimizer's is {target.dtype}.");
                slotPlan.Add((target, stored));
            }
        if (slots.Count > 0)
            throw new InvalidDataException($"{path}: optimizer state for weights the model does not have: {string.Join(", ", slots.Keys)}.");

        // 3. Apply: nothing below can fail on the file's account. A checkpoint from before generator state was saved leaves
        // the generator as it is.
        using var writing = Network.WriteLease();
        WeightLoading.Apply(plan);
        foreach (var (target, stored) in generatorPlan)
            using (var bytes = stored.Value.to_type(ScalarType.Byte).cpu().contiguous())
                target.set_state(bytes);
        using (no_grad())
            foreach (var (target, stored) in slotPlan)
            {
                using var scope = NewDisposeScope();
                target.copy_(stored.Value);
            }
        Optimizer.Iterations = iterations;
        if (Optimizer.Schedule is null) Optimizer.LearningRate = learningRate;
        Optimizer.RestoreScalarState(scalar);
        return epoch;
    }

    private static string Required(IReadOnlyDictionary<string, string> meta, string key, string path) =>
        meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: corrupt checkpoint: its metadata lacks '{key}'.");

    /// <summary>A metadata value that must be a whole number in 0..<paramref name="max"/> (plain digits, no sign or spaces).</summary>
    private static long Count(IReadOnlyDictionary<string, string> meta, string key, long max, string path)
    {
        var text = Required(meta, key, path);
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v > max)
            throw new InvalidDataException($"{path}: corrupt metadata: {key}='{text}' is not a whole number from 0 to {max}.");
        return v;
    }
}

/// <summary>Keras's <c>compile</c> and the training entry points on built networks.</summary>
public static class TrainingExtensions
{
    /// <summary>
    /// Keras's <c>compile</c>: attaches an optimizer (a value or a name such as <c>"adam"</c>), a loss (or one per output) and
    /// metrics (names such as <c>"accuracy"</c> or values). Returns the compiled model; the network's
    /// <c>Fit</c>/<c>Evaluate</c>/<c>Predict</c> extension methods use it too. As in Keras, a model with layers under the
    /// <c>mixed_float16</c> policy gets its optimizer wrapped in a <see cref="LossScaleOptimizer"/>.
    /// </summary>
    public static CompiledModel Compile(this BuiltNetwork network, Optimizer optimizer, Loss loss, IEnumerable<Metric>? metrics = null, long? seed = null) =>
        network.Compile(optimizer, [loss], metrics is null ? null : [metrics.ToList()], null, seed);

    /// <summary>Keras's <c>compile</c> with metric names, e.g. <c>Compile("adam", "sparse_categorical_crossentropy", "accuracy")</c>.</summary>
    public static CompiledModel Compile(this BuiltNetwork network, Optimizer optimizer, Loss loss, params string[] metrics) =>
        network.Compile(optimizer, [loss], [metrics.Select(m => OptionConversion.Convert(m, n => Training.Metrics.Get(n!))).ToList()], null);

    /// <summary>Keras's <c>compile</c> for several outputs: a loss per output (or one for all), metrics per output, loss weights.</summary>
    public static CompiledModel Compile(this BuiltNetwork network, Optimizer optimizer, IReadOnlyList<Loss> losses,
        IReadOnlyList<IReadOnlyList<Metric>>? metrics, IReadOnlyList<double>? lossWeights, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(losses);
        if (optimizer.Built)
            throw new ArgumentException($"This {optimizer.ClassName} optimizer already holds state for another model; create a new one.", nameof(optimizer));
        // Keras's compile: a model with the mixed_float16 policy trains with dynamic loss scaling (float16 gradients underflow).
        if (optimizer is not LossScaleOptimizer && network.BuiltLayers.Any(l => l.Policy.Name == "mixed_float16"))
            optimizer = new LossScaleOptimizer(optimizer);
        var compiled = new CompiledModel(network, optimizer, losses, lossWeights, metrics ?? [[]], seed);
        network.Compiled = compiled;
        return compiled;
    }

    /// <summary>The latest compiled configuration of <paramref name="network"/>.</summary>
    /// <exception cref="InvalidOperationException">Not compiled (Keras: "You must call `compile()` before using the model.").</exception>
    public static CompiledModel GetCompiled(this BuiltNetwork network) =>
        network.Compiled as CompiledModel ?? throw new InvalidOperationException($"You must call Compile() before training or evaluating model '{network.Declaration.Name}'.");

    /// <summary>Keras's <c>fit</c> on the compiled network; see <see cref="CompiledModel.Fit(Tensor, Tensor, int, int, Verbose, IEnumerable{Callback}?, double, ValidationData?, bool, IReadOnlyDictionary{int, double}?, Tensor?, int, int?, int?, int)"/>.</summary>
    public static History Fit(this BuiltNetwork network, Tensor x, Tensor y, int batchSize = 32, int epochs = 1, Verbose verbose = default,
        IEnumerable<Callback>? callbacks = null, double validationSplit = 0.0, ValidationData? validationData = null,
        bool shuffle = true, IReadOnlyDictionary<int, double>? classWeight = null, Tensor? sampleWeight = null,
        int initialEpoch = 0, int? stepsPerEpoch = null, int? validationBatchSize = null, int validationFreq = 1) =>
        network.GetCompiled().Fit(x, y, batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle, classWeight,
            sampleWeight, initialEpoch, stepsPerEpoch, validationBatchSize, validationFreq);

    /// <summary>Keras's <c>evaluate</c> on the compiled network.</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(this BuiltNetwork network, Tensor x, Tensor y, int batchSize = 32,
        Verbose verbose = default, Tensor? sampleWeight = null) =>
        network.GetCompiled().Evaluate(x, y, batchSize, verbose, sampleWeight);
}
