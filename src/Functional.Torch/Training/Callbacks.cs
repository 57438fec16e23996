using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Functional.Torch.Training;

/// <summary>
/// A Keras callback: override the hooks you need. <see cref="Model"/> is the compiled model being trained (set before
/// <see cref="OnTrainBegin"/>); set <c>Model.StopTraining = true</c> to stop after the current batch/epoch. Logs map names
/// (<c>loss</c>, <c>accuracy</c>, <c>val_loss</c>, …) to values; a hook may add entries (as ReduceLROnPlateau adds
/// <c>learning_rate</c>) and later callbacks and the history see them.
/// </summary>
/// <remarks>
/// Hooks run on the thread that runs fit or evaluate (a worker thread for the <c>…Async</c> methods), one at a time. A callback
/// keeps per-run state, so one instance serves one fit at a time. The built-in callbacks print to the console, or to
/// <see cref="CompiledModel.Logger"/> when the model has one; yours can do the same through <c>Model.Logger</c>.
/// </remarks>
public abstract class Callback
{
    /// <summary>The model being trained or evaluated.</summary>
    public CompiledModel Model { get; private set; } = null!;

    /// <summary>Fit's parameters: <c>epochs</c>, <c>steps</c>, <c>verbose</c>.</summary>
    public IReadOnlyDictionary<string, int> Params { get; private set; } = new Dictionary<string, int>();

    internal void SetContext(CompiledModel model, IReadOnlyDictionary<string, int> parameters)
    {
        Model = model;
        Params = parameters;
    }

    /// <summary>A message of a built-in callback: to the model's logger at Information when it has one, else to the console as Keras prints it.</summary>
    private protected void Say(string console, string template, params object?[] args) =>
        Report(LogLevel.Information, Console.Out, console, template, args);

    /// <summary>A warning of a built-in callback: to the model's logger at Warning when it has one, else to the console's error stream.</summary>
    private protected void Warn(string console, string template, params object?[] args) =>
        Report(LogLevel.Warning, Console.Error, console, template, args);

    /// <summary>To the model's logger (a structured message: <paramref name="template"/>'s named placeholders take <paramref name="args"/>) when it has one, else <paramref name="text"/> to <paramref name="console"/>.</summary>
    private protected void Report(LogLevel level, TextWriter console, string text, string template, params object?[] args)
    {
        if (Model?.Logger is { } logger) logger.Log(level, LoggingCallback.Events.Callback, template, args);
        else console.WriteLine(text);
    }

    /// <summary>Before the first epoch.</summary>
    public virtual void OnTrainBegin(IDictionary<string, double> logs) { }
    /// <summary>After the last epoch (or when training stops); logs are the last epoch's.</summary>
    public virtual void OnTrainEnd(IDictionary<string, double> logs) { }
    /// <summary>Before epoch <paramref name="epoch"/> (0-based).</summary>
    public virtual void OnEpochBegin(int epoch, IDictionary<string, double> logs) { }
    /// <summary>After epoch <paramref name="epoch"/>, with training and validation results.</summary>
    public virtual void OnEpochEnd(int epoch, IDictionary<string, double> logs) { }
    /// <summary>Before training batch <paramref name="batch"/> of the epoch.</summary>
    public virtual void OnTrainBatchBegin(int batch, IDictionary<string, double> logs) { }
    /// <summary>After training batch <paramref name="batch"/>, with the epoch's running results.</summary>
    public virtual void OnTrainBatchEnd(int batch, IDictionary<string, double> logs) { }
    /// <summary>Before an evaluation (also the validation pass inside fit).</summary>
    public virtual void OnTestBegin(IDictionary<string, double> logs) { }
    /// <summary>After an evaluation, with its results.</summary>
    public virtual void OnTestEnd(IDictionary<string, double> logs) { }
    /// <summary>After evaluation batch <paramref name="batch"/>.</summary>
    public virtual void OnTestBatchEnd(int batch, IDictionary<string, double> logs) { }
}

internal sealed class CallbackList(IReadOnlyList<Callback> callbacks)
{
    public IReadOnlyList<Callback> Items => callbacks;
    public void SetContext(CompiledModel model, IReadOnlyDictionary<string, int> p) { foreach (var c in callbacks) c.SetContext(model, p); }
    public void TrainBegin(IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTrainBegin(l); }
    public void TrainEnd(IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTrainEnd(l); }
    public void EpochBegin(int e, IDictionary<string, double> l) { foreach (var c in callbacks) c.OnEpochBegin(e, l); }
    public void EpochEnd(int e, IDictionary<string, double> l) { foreach (var c in callbacks) c.OnEpochEnd(e, l); }
    public void BatchBegin(int b, IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTrainBatchBegin(b, l); }
    public void BatchEnd(int b, IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTrainBatchEnd(b, l); }
    public void TestBegin(IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTestBegin(l); }
    public void TestEnd(IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTestEnd(l); }
    public void TestBatchEnd(int b, IDictionary<string, double> l) { foreach (var c in callbacks) c.OnTestBatchEnd(b, l); }
}

/// <summary>
/// The record of a fit (Keras <c>History</c>, returned by <c>fit</c>): the epochs run and, per log name, one value per
/// epoch. The Functional.Plotting package adds <c>SavePlot</c>, which draws the training curves.
/// </summary>
public sealed class History : Callback
{
    private readonly List<int> epochs = [];
    private readonly Dictionary<string, List<double>> values = new(StringComparer.Ordinal);

    /// <summary>The epochs recorded (0-based, as Keras's <c>history.epoch</c>).</summary>
    public IReadOnlyList<int> Epochs => epochs;

    /// <summary>Per log name (<c>loss</c>, <c>val_loss</c>, …), the value at each recorded epoch (Keras's <c>history.history</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> Values =>
        values.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value);

    /// <summary>The values of one log name.</summary>
    /// <exception cref="KeyNotFoundException">No such name; the message lists the recorded ones.</exception>
    public IReadOnlyList<double> this[string name] => values.TryGetValue(name, out var v)
        ? v : throw new KeyNotFoundException($"History has no '{name}'. Recorded: {string.Join(", ", values.Keys)}.");

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs)
    {
        epochs.Add(epoch);
        foreach (var (k, v) in logs)
        {
            if (!values.TryGetValue(k, out var list)) values[k] = list = [];
            list.Add(v);
        }
    }

    /// <summary>The history as CSV text (<c>epoch,</c> then the names sorted).</summary>
    public string ToCsv()
    {
        var keys = values.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var sb = new StringBuilder("epoch");
        foreach (var k in keys) sb.Append(',').Append(k);
        sb.Append('\n');
        for (var i = 0; i < epochs.Count; i++)
        {
            sb.Append(epochs[i]);
            foreach (var k in keys) sb.Append(',').Append(i < values[k].Count ? values[k][i].ToString("R", CultureInfo.InvariantCulture) : "");
            sb.Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>Which way a monitored value improves.</summary>
internal static class Monitor
{
    // Keras's mode "auto": maximise names containing "acc" (accuracy) or "auc", minimise everything else.
    public static bool Maximise(string mode, string monitor, string owner) => mode.Trim().ToLowerInvariant() switch
    {
        "min" => false,
        "max" => true,
        "auto" => monitor.Contains("acc", StringComparison.Ordinal) || monitor.Contains("auc", StringComparison.Ordinal)
                  || monitor.StartsWith("fmeasure", StringComparison.Ordinal),
        _ => throw new ArgumentException($"{owner}: expected argument 'mode' to be one of 'auto', 'min', 'max'. Received: mode='{mode}'.", nameof(mode)),
    };
}

/// <summary>
/// Stops training when a monitored value stops improving (Keras <c>EarlyStopping</c>): improvement means beating the best
/// by more than <see cref="MinDelta"/>; after <see cref="Patience"/> epochs without one, training stops. With
/// <see cref="RestoreBestWeights"/>, the weights of the best epoch are put back when training ends.
/// </summary>
public sealed class EarlyStopping : Callback
{
    private readonly bool maximise;
    private WeightSnapshot? bestWeights;

    /// <summary>Creates the callback with Keras's arguments and defaults.</summary>
    public EarlyStopping(string monitor = "val_loss", double minDelta = 0.0, int patience = 0, int verbose = 0, string mode = "auto",
        double? baseline = null, bool restoreBestWeights = false, int startFromEpoch = 0)
    {
        Monitor = monitor;
        MinDelta = Math.Abs(minDelta);
        Patience = patience >= 0 ? patience : throw new ArgumentException($"EarlyStopping: expected argument 'patience' to be >= 0. Received: patience={patience}.", nameof(patience));
        Verbose = verbose;
        maximise = Training.Monitor.Maximise(mode, monitor, "EarlyStopping");
        Baseline = baseline;
        RestoreBestWeights = restoreBestWeights;
        StartFromEpoch = startFromEpoch;
    }

    /// <summary>The log name watched.</summary>
    public string Monitor { get; }
    /// <summary>The smallest change that counts as improvement.</summary>
    public double MinDelta { get; }
    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }
    /// <summary>1: print when stopping and restoring.</summary>
    public int Verbose { get; }
    /// <summary>A value the monitor must beat for the wait to reset.</summary>
    public double? Baseline { get; }
    /// <summary>Whether the best epoch's weights are restored at the end.</summary>
    public bool RestoreBestWeights { get; }
    /// <summary>Epochs to wait before watching.</summary>
    public int StartFromEpoch { get; }

    /// <summary>Epochs since the last improvement.</summary>
    public int Wait { get; private set; }
    /// <summary>The epoch at which training was stopped (0: it was not).</summary>
    public int StoppedEpoch { get; private set; }
    /// <summary>The best value seen.</summary>
    public double? Best { get; private set; }
    /// <summary>The epoch of the best value.</summary>
    public int BestEpoch { get; private set; }

    /// <inheritdoc />
    public override void OnTrainBegin(IDictionary<string, double> logs)
    {
        Wait = 0; StoppedEpoch = 0; Best = null; BestEpoch = 0;
        bestWeights?.Dispose();
        bestWeights = null;
    }

    private bool IsImprovement(double value, double? reference) =>
        reference is not { } r || (maximise ? value - MinDelta > r : value + MinDelta < r);

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs)
    {
        if (!logs.TryGetValue(Monitor, out var current))
        {
            Warn($"Early stopping conditioned on metric `{Monitor}` which is not available. Available metrics are: {string.Join(",", logs.Keys)}",
                "Early stopping conditioned on metric {Monitor} which is not available. Available metrics are: {Available}", Monitor, string.Join(",", logs.Keys));
            return;
        }
        if (epoch < StartFromEpoch) return;
        if (RestoreBestWeights && bestWeights is null)
        {
            bestWeights = Model.GetWeights();
            BestEpoch = epoch;
        }
        Wait++;
        if (IsImprovement(current, Best))
        {
            Best = current;
            BestEpoch = epoch;
            if (RestoreBestWeights)
            {
                bestWeights?.Dispose();
                bestWeights = Model.GetWeights();
            }
            if (Baseline is null || IsImprovement(current, Baseline)) Wait = 0;
            return;
        }
        if (Wait >= Patience && epoch > 0)
        {
            StoppedEpoch = epoch;
            Model.StopTraining = true;
        }
    }

    /// <inheritdoc />
    public override void OnTrainEnd(IDictionary<string, double> logs)
    {
        if (StoppedEpoch > 0 && Verbose > 0) Say($"Epoch {StoppedEpoch + 1}: early stopping", "Epoch {Epoch}: early stopping", StoppedEpoch + 1);
        if (RestoreBestWeights && bestWeights is not null)
        {
            if (Verbose > 0) Say($"Restoring model weights from the end of the best epoch: {BestEpoch + 1}.", "Restoring model weights from the end of the best epoch: {BestEpoch}", BestEpoch + 1);
            Model.SetWeights(bestWeights);
        }
        bestWeights?.Dispose();
        bestWeights = null;
    }
}

/// <summary>
/// Saves the model during training (Keras <c>ModelCheckpoint</c>) as safetensors: weights only, or a full checkpoint with
/// the optimizer's state that <see cref="CompiledModel.LoadCheckpoint"/> resumes from. The path may hold Keras-style fields:
/// <c>{epoch:02d}</c>, <c>{val_loss:.4f}</c>, … With <see cref="SaveBestOnly"/>, a file is written only when the monitored
/// value improves on the best so far.
/// </summary>
public sealed class ModelCheckpoint : Callback
{
    private readonly bool maximise;
    private int batchesSinceSave;

    /// <summary>Creates the callback with Keras's arguments and defaults (<paramref name="saveFreq"/> 0 means every epoch).</summary>
    public ModelCheckpoint(string filepath, string monitor = "val_loss", int verbose = 0, bool saveBestOnly = false,
        bool saveWeightsOnly = false, string mode = "auto", int saveFreq = 0, double? initialValueThreshold = null)
    {
        Filepath = string.IsNullOrWhiteSpace(filepath) ? throw new ArgumentException("ModelCheckpoint: expected a file path.", nameof(filepath)) : filepath;
        Monitor = monitor;
        Verbose = verbose;
        SaveBestOnly = saveBestOnly;
        SaveWeightsOnly = saveWeightsOnly;
        maximise = Training.Monitor.Maximise(mode, monitor, "ModelCheckpoint");
        SaveFreq = saveFreq >= 0 ? saveFreq : throw new ArgumentException($"ModelCheckpoint: expected argument 'saveFreq' to be 0 (every epoch) or a positive number of batches. Received: saveFreq={saveFreq}.", nameof(saveFreq));
        Best = initialValueThreshold;
    }

    /// <summary>Where to save (may contain <c>{epoch}</c> and <c>{name:format}</c> fields).</summary>
    public string Filepath { get; }
    /// <summary>The log name watched for <see cref="SaveBestOnly"/>.</summary>
    public string Monitor { get; }
    /// <summary>1: print a line per save.</summary>
    public int Verbose { get; }
    /// <summary>Save only when the monitored value improves.</summary>
    public bool SaveBestOnly { get; }
    /// <summary>Weights only (else weights and optimizer state).</summary>
    public bool SaveWeightsOnly { get; }
    /// <summary>0: at each epoch end; n: every n batches.</summary>
    public int SaveFreq { get; }
    /// <summary>The best monitored value so far.</summary>
    public double? Best { get; private set; }
    /// <summary>The paths written, in order.</summary>
    public List<string> Saved { get; } = [];

    /// <inheritdoc />
    public override void OnTrainBatchEnd(int batch, IDictionary<string, double> logs)
    {
        if (SaveFreq == 0) return;
        if (++batchesSinceSave < SaveFreq) return;
        batchesSinceSave = 0;
        Save(currentEpoch, logs, completedEpochs: currentEpoch);
    }

    private int currentEpoch;

    /// <inheritdoc />
    public override void OnEpochBegin(int epoch, IDictionary<string, double> logs) => currentEpoch = epoch;

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs)
    {
        if (SaveFreq == 0) Save(epoch, logs, completedEpochs: epoch + 1);
    }

    private void Save(int epoch, IDictionary<string, double> logs, int completedEpochs)
    {
        var path = FormatPath(Filepath, epoch + 1, logs);
        if (SaveBestOnly)
        {
            if (!logs.TryGetValue(Monitor, out var current))
            {
                Warn($"Can save best model only with {Monitor} available, skipping.", "Can save best model only with {Monitor} available, skipping", Monitor);
                return;
            }
            var improved = Best is not { } b || (maximise ? current > b : current < b);
            if (!improved)
            {
                if (Verbose > 0) Say($"\nEpoch {epoch + 1}: {Monitor} did not improve from {Best:0.#####}", "Epoch {Epoch}: {Monitor} did not improve from {Best}", epoch + 1, Monitor, Best);
                return;
            }
            if (Verbose > 0)
                Say($"\nEpoch {epoch + 1}: {Monitor} improved from {(Best is null ? "inf" : Best.Value.ToString("0.#####", CultureInfo.InvariantCulture))} to {current.ToString("0.#####", CultureInfo.InvariantCulture)}, saving model to {path}",
                    "Epoch {Epoch}: {Monitor} improved from {Best} to {Current}, saving model to {Path}", epoch + 1, Monitor, Best, current, path);
            Best = current;
        }
        else if (Verbose > 0) Say($"\nEpoch {epoch + 1}: saving model to {path}", "Epoch {Epoch}: saving model to {Path}", epoch + 1, path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        if (SaveWeightsOnly) Model.Network.SaveWeights(path);
        else Model.SaveCheckpoint(path, completedEpochs);
        Saved.Add(path);
    }

    /// <summary>Fills Keras-style fields: <c>{epoch}</c>, <c>{epoch:02d}</c>, <c>{loss:.2f}</c>, …</summary>
    public static string FormatPath(string template, int epoch, IDictionary<string, double> logs)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf('{', i);
            if (open < 0) { sb.Append(template, i, template.Length - i); break; }
            var close = template.IndexOf('}', open);
            if (close < 0) throw new ArgumentException($"ModelCheckpoint: unbalanced '{{' in filepath '{template}'.", nameof(template));
            sb.Append(template, i, open - i);
            var field = template[(open + 1)..close];
            var colon = field.IndexOf(':');
            var key = colon < 0 ? field : field[..colon];
            var spec = colon < 0 ? "" : field[(colon + 1)..];
            double value;
            if (key == "epoch") value = epoch;
            else if (!logs.TryGetValue(key, out value))
                throw new KeyNotFoundException($"ModelCheckpoint: the filepath '{template}' uses '{{{key}}}', which is not in the logs ({string.Join(", ", logs.Keys)}).");
            sb.Append(FormatNumber(value, spec));
            i = close + 1;
        }
        return sb.ToString();
    }

    private static string FormatNumber(double value, string spec)
    {
        if (spec.Length == 0) return key(value);
        static string key(double v) => v == Math.Floor(v) && Math.Abs(v) < 1e15 ? ((long)v).ToString(CultureInfo.InvariantCulture) : v.ToString("R", CultureInfo.InvariantCulture);
        if (spec.EndsWith('d'))
        {
            var width = spec[..^1];
            var zero = width.StartsWith('0');
            var n = int.TryParse(width, out var w) ? w : 0;
            var s = ((long)Math.Round(value)).ToString(CultureInfo.InvariantCulture);
            return s.PadLeft(n, zero ? '0' : ' ');
        }
        if (spec.StartsWith('.') && spec.EndsWith('f') && int.TryParse(spec[1..^1], out var digits))
            return value.ToString("F" + digits, CultureInfo.InvariantCulture);
        if (spec.StartsWith('.') && spec.EndsWith('e') && int.TryParse(spec[1..^1], out var ed))
            return value.ToString("e" + ed, CultureInfo.InvariantCulture);
        throw new ArgumentException($"ModelCheckpoint: unsupported format '{spec}' in filepath (use d, .Nf or .Ne).", nameof(spec));
    }
}

/// <summary>Sets the learning rate at the start of each epoch from <c>schedule(epoch, currentRate)</c> (Keras <c>LearningRateScheduler</c>); logs <c>learning_rate</c>.</summary>
public sealed class LearningRateScheduler(Func<int, double, double> schedule, int verbose = 0) : Callback
{
    /// <inheritdoc />
    public override void OnEpochBegin(int epoch, IDictionary<string, double> logs)
    {
        var lr = schedule(epoch, Model.Optimizer.LearningRate);
        if (!double.IsFinite(lr))
            throw new InvalidOperationException($"The output of the schedule function should be a float. Got: {lr}");
        Model.Optimizer.LearningRate = lr;
        if (verbose > 0)
            Say($"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr.ToString("R", CultureInfo.InvariantCulture)}.",
                "Epoch {Epoch}: LearningRateScheduler setting learning rate to {LearningRate}", epoch + 1, lr);
    }

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs) => logs["learning_rate"] = Model.Optimizer.LearningRate;
}

/// <summary>
/// Multiplies the learning rate by <see cref="Factor"/> when a monitored value has not improved (by more than
/// <see cref="MinDelta"/>) for <see cref="Patience"/> epochs, then waits <see cref="Cooldown"/> epochs; never below
/// <see cref="MinLr"/> (Keras <c>ReduceLROnPlateau</c>). Logs <c>learning_rate</c>.
/// </summary>
public sealed class ReduceLROnPlateau : Callback
{
    private readonly bool maximise;
    private int cooldownCounter;

    /// <summary>Creates the callback with Keras's arguments and defaults.</summary>
    public ReduceLROnPlateau(string monitor = "val_loss", double factor = 0.1, int patience = 10, int verbose = 0, string mode = "auto",
        double minDelta = 1e-4, int cooldown = 0, double minLr = 0.0)
    {
        if (factor >= 1.0)
            throw new ArgumentException($"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor.ToString(CultureInfo.InvariantCulture)}", nameof(factor));
        Monitor = monitor;
        Factor = factor;
        Patience = patience;
        Verbose = verbose;
        MinDelta = minDelta;
        Cooldown = cooldown;
        MinLr = minLr;
        // Keras: mode "auto" maximises only when the monitor name contains "acc".
        maximise = mode.Trim().ToLowerInvariant() switch
        {
            "min" => false,
            "max" => true,
            "auto" => monitor.Contains("acc", StringComparison.Ordinal),
            _ => throw new ArgumentException($"ReduceLROnPlateau: expected argument 'mode' to be one of 'auto', 'min', 'max'. Received: mode='{mode}'.", nameof(mode)),
        };
    }

    /// <summary>The log name watched.</summary>
    public string Monitor { get; }
    /// <summary>The multiplier (&lt; 1).</summary>
    public double Factor { get; }
    /// <summary>Epochs without improvement before reducing.</summary>
    public int Patience { get; }
    /// <summary>1: print each reduction.</summary>
    public int Verbose { get; }
    /// <summary>The smallest change that counts as improvement.</summary>
    public double MinDelta { get; }
    /// <summary>Epochs to wait after a reduction.</summary>
    public int Cooldown { get; }
    /// <summary>The floor.</summary>
    public double MinLr { get; }
    /// <summary>The best value seen.</summary>
    public double Best { get; private set; }
    /// <summary>Epochs since the last improvement.</summary>
    public int Wait { get; private set; }

    /// <inheritdoc />
    public override void OnTrainBegin(IDictionary<string, double> logs)
    {
        Best = maximise ? double.NegativeInfinity : double.PositiveInfinity;
        cooldownCounter = 0;
        Wait = 0;
    }

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs)
    {
        logs["learning_rate"] = Model.Optimizer.LearningRate;
        if (!logs.TryGetValue(Monitor, out var current))
        {
            Warn($"Learning rate reduction is conditioned on metric `{Monitor}` which is not available. Available metrics are: {string.Join(",", logs.Keys)}.",
                "Learning rate reduction is conditioned on metric {Monitor} which is not available. Available metrics are: {Available}", Monitor, string.Join(",", logs.Keys));
            return;
        }
        var inCooldown = cooldownCounter > 0;
        if (inCooldown)
        {
            cooldownCounter--;
            Wait = 0;
        }
        if (maximise ? current > Best + MinDelta : current < Best - MinDelta)
        {
            Best = current;
            Wait = 0;
        }
        else if (!(cooldownCounter > 0))
        {
            Wait++;
            if (Wait >= Patience)
            {
                var old = Model.Optimizer.LearningRate;
                if (old > (float)MinLr)
                {
                    var lr = Math.Max(old * Factor, MinLr);
                    Model.Optimizer.LearningRate = lr;
                    if (Verbose > 0)
                        Say($"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {lr.ToString("R", CultureInfo.InvariantCulture)}.",
                            "Epoch {Epoch}: ReduceLROnPlateau reducing learning rate to {LearningRate}", epoch + 1, lr);
                    cooldownCounter = Cooldown;
                    Wait = 0;
                }
            }
        }
    }
}

/// <summary>Stops training when the loss becomes NaN or infinite (Keras <c>TerminateOnNaN</c>).</summary>
public sealed class TerminateOnNaN : Callback
{
    /// <summary>The batch at which training was stopped, if it was.</summary>
    public int? TerminatedAtBatch { get; private set; }

    /// <inheritdoc />
    public override void OnTrainBatchEnd(int batch, IDictionary<string, double> logs)
    {
        if (logs.TryGetValue("loss", out var loss) && !double.IsFinite(loss))
        {
            Report(LogLevel.Warning, Console.Out, $"Batch {batch}: Invalid loss, terminating training", "Batch {Batch}: Invalid loss, terminating training", batch);
            TerminatedAtBatch = batch;
            Model.StopTraining = true;
        }
    }
}

/// <summary>Streams epoch results to a CSV file (Keras <c>CSVLogger</c>): a header <c>epoch,</c> + the sorted log names, then a row per epoch.</summary>
public sealed class CSVLogger(string filename, char separator = ',', bool append = false) : Callback
{
    private List<string>? keys;
    private bool writeHeader;

    /// <summary>The file written.</summary>
    public string Filename { get; } = filename;

    /// <inheritdoc />
    public override void OnTrainBegin(IDictionary<string, double> logs)
    {
        writeHeader = !(append && File.Exists(Filename) && new FileInfo(Filename).Length > 0);
        if (!append) File.WriteAllText(Filename, "");
        keys = null;
    }

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs)
    {
        keys ??= logs.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        if (writeHeader)
        {
            sb.Append("epoch");
            foreach (var k in keys) sb.Append(separator).Append(k);
            sb.Append('\n');
            writeHeader = false;
        }
        sb.Append(epoch.ToString(CultureInfo.InvariantCulture));
        foreach (var k in keys)
            sb.Append(separator).Append(logs.TryGetValue(k, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : "NA");
        sb.Append('\n');
        File.AppendAllText(Filename, sb.ToString());
    }
}

/// <summary>A callback from functions (Keras <c>LambdaCallback</c>); any hook may be left null.</summary>
public sealed class LambdaCallback(
    Action<int, IDictionary<string, double>>? onEpochBegin = null,
    Action<int, IDictionary<string, double>>? onEpochEnd = null,
    Action<int, IDictionary<string, double>>? onTrainBatchBegin = null,
    Action<int, IDictionary<string, double>>? onTrainBatchEnd = null,
    Action<IDictionary<string, double>>? onTrainBegin = null,
    Action<IDictionary<string, double>>? onTrainEnd = null) : Callback
{
    /// <inheritdoc />
    public override void OnEpochBegin(int epoch, IDictionary<string, double> logs) => onEpochBegin?.Invoke(epoch, logs);
    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs) => onEpochEnd?.Invoke(epoch, logs);
    /// <inheritdoc />
    public override void OnTrainBatchBegin(int batch, IDictionary<string, double> logs) => onTrainBatchBegin?.Invoke(batch, logs);
    /// <inheritdoc />
    public override void OnTrainBatchEnd(int batch, IDictionary<string, double> logs) => onTrainBatchEnd?.Invoke(batch, logs);
    /// <inheritdoc />
    public override void OnTrainBegin(IDictionary<string, double> logs) => onTrainBegin?.Invoke(logs);
    /// <inheritdoc />
    public override void OnTrainEnd(IDictionary<string, double> logs) => onTrainEnd?.Invoke(logs);
}
