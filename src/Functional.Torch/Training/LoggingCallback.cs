using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Functional.Torch.Training;

/// <summary>
/// The fit log written to an <see cref="ILogger"/> (Microsoft.Extensions.Logging) instead of the console: the start and end
/// of training and each epoch's results at <see cref="EpochLevel"/> (Information by default), each batch's running results at
/// <see cref="BatchLevel"/> (Debug). Messages are structured: every value is a named property (<c>Model</c>, <c>Epoch</c>,
/// <c>Epochs</c>, <c>Step</c>, <c>Steps</c>, <c>ElapsedMs</c>, and one per log entry under its Keras name, e.g. <c>loss</c>,
/// <c>val_accuracy</c>), and each kind of message has its own <see cref="EventId"/> (<see cref="Events"/>).
/// </summary>
/// <remarks>
/// <c>fit</c> adds one on <see cref="CompiledModel.Logger"/> when that is set (unless <c>verbose</c> is 0 or the callbacks
/// already hold one); add your own to use other levels or another logger. Like every callback, an instance serves one fit at a
/// time. Epochs are counted from 1 in messages and properties, as Keras prints them.
/// </remarks>
public sealed class LoggingCallback : Callback
{
    private readonly Stopwatch trainClock = new();
    private readonly Stopwatch epochClock = new();
    private int epochs;
    private int steps;
    private int epochsRun;

    /// <summary>Logs to <paramref name="logger"/>: epochs at <paramref name="epochLevel"/>, batches at <paramref name="batchLevel"/>.</summary>
    public LoggingCallback(ILogger logger, LogLevel epochLevel = LogLevel.Information, LogLevel batchLevel = LogLevel.Debug)
    {
        Logger = logger ?? throw new ArgumentNullException(nameof(logger));
        EpochLevel = epochLevel;
        BatchLevel = batchLevel;
    }

    /// <summary>Where the messages go.</summary>
    public ILogger Logger { get; }
    /// <summary>The level of the start, end and epoch messages.</summary>
    public LogLevel EpochLevel { get; }
    /// <summary>The level of the per-batch messages (skipped cheaply when the logger does not want them).</summary>
    public LogLevel BatchLevel { get; }

    /// <summary>The event ids of the library's log messages.</summary>
    public static class Events
    {
        /// <summary>Training starts.</summary>
        public static readonly EventId TrainBegin = new(1, nameof(TrainBegin));
        /// <summary>An epoch ended, with its results.</summary>
        public static readonly EventId EpochEnd = new(2, nameof(EpochEnd));
        /// <summary>A training batch ended, with the epoch's running results.</summary>
        public static readonly EventId BatchEnd = new(3, nameof(BatchEnd));
        /// <summary>Training ended (finished, stopped by a callback, or cancelled).</summary>
        public static readonly EventId TrainEnd = new(4, nameof(TrainEnd));
        /// <summary>An evaluation ended, with its results.</summary>
        public static readonly EventId Evaluation = new(5, nameof(Evaluation));
        /// <summary>Training was cancelled through its token, between two batches.</summary>
        public static readonly EventId Cancelled = new(6, nameof(Cancelled));
        /// <summary>A callback's message (early stopping, a checkpoint saved, a learning-rate change, …).</summary>
        public static readonly EventId Callback = new(7, nameof(Callback));
    }

    private string ModelName => Model?.Network.Declaration.Name ?? "model";

    /// <inheritdoc />
    public override void OnTrainBegin(IDictionary<string, double> logs)
    {
        epochs = Params.TryGetValue("epochs", out var e) ? e : 1;
        steps = Params.TryGetValue("steps", out var s) ? s : 0;
        epochsRun = 0;
        trainClock.Restart();
        if (!Logger.IsEnabled(EpochLevel)) return;
        Write(Logger, EpochLevel, Events.TrainBegin, "Training {Model}: {Epochs} epochs of {Steps} steps",
            [("Model", ModelName), ("Epochs", epochs), ("Steps", steps)], null);
    }

    /// <inheritdoc />
    public override void OnEpochBegin(int epoch, IDictionary<string, double> logs)
    {
        currentEpoch = epoch;
        epochClock.Restart();
    }

    /// <inheritdoc />
    public override void OnTrainBatchEnd(int batch, IDictionary<string, double> logs)
    {
        if (!Logger.IsEnabled(BatchLevel)) return;
        var epoch = currentEpoch + 1;
        Write(Logger, BatchLevel, Events.BatchEnd, "Epoch {Epoch}/{Epochs} step {Step}/{Steps}",
            [("Epoch", epoch), ("Epochs", epochs), ("Step", batch + 1), ("Steps", steps)], logs);
    }

    private int currentEpoch;

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs)
    {
        epochsRun++;
        if (!Logger.IsEnabled(EpochLevel)) return;
        Write(Logger, EpochLevel, Events.EpochEnd, "Epoch {Epoch}/{Epochs} - {ElapsedMs} ms",
            [("Epoch", epoch + 1), ("Epochs", epochs), ("ElapsedMs", epochClock.ElapsedMilliseconds)], logs);
    }

    /// <inheritdoc />
    public override void OnTrainEnd(IDictionary<string, double> logs)
    {
        if (!Logger.IsEnabled(EpochLevel)) return;
        Write(Logger, EpochLevel, Events.TrainEnd, "Training {Model} ended after {EpochsRun} epochs in {ElapsedMs} ms",
            [("Model", ModelName), ("EpochsRun", epochsRun), ("ElapsedMs", trainClock.ElapsedMilliseconds)], logs);
    }

    /// <summary>The evaluation line (what <c>evaluate</c> prints with verbose on) as a log message.</summary>
    internal static void LogEvaluation(ILogger logger, string model, int steps, TimeSpan elapsed, IDictionary<string, double> logs)
    {
        if (!logger.IsEnabled(LogLevel.Information)) return;
        Write(logger, LogLevel.Information, Events.Evaluation, "Evaluated {Model}: {Steps} steps in {ElapsedMs} ms",
            [("Model", model), ("Steps", steps), ("ElapsedMs", (long)elapsed.TotalMilliseconds)], logs);
    }

    /// <summary>
    /// Writes one structured message: <paramref name="template"/> with <paramref name="fields"/>, then
    /// <c> - name: {name}</c> per log entry in Keras's display order (values with 4 decimals in the text, exact in the properties).
    /// </summary>
    private static void Write(ILogger logger, LogLevel level, EventId id, string template, (string Name, object Value)[] fields,
        IDictionary<string, double>? logs)
    {
        var state = new LogValues(template, fields, logs);
        logger.Log(level, id, state, null, static (s, _) => s.ToString());
    }

    /// <summary>
    /// A message's properties, as Microsoft.Extensions.Logging's own formatted values present them: a list of name/value pairs
    /// ending with <c>{OriginalFormat}</c>, the template, so structured sinks keep every value and the template.
    /// </summary>
    private sealed class LogValues : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly List<KeyValuePair<string, object?>> values = [];
        private readonly string text;

        public LogValues(string template, (string Name, object Value)[] fields, IDictionary<string, double>? logs)
        {
            var format = new StringBuilder(template);
            var message = new StringBuilder(template);
            foreach (var (name, value) in fields)
            {
                values.Add(new(name, value));
                message.Replace("{" + name + "}", Convert.ToString(value, CultureInfo.InvariantCulture));
            }
            if (logs is not null)
                foreach (var (key, value) in ProgbarLogger.Ordered(logs))
                {
                    var name = Placeholder(key);
                    if (values.Any(v => v.Key == name)) continue;   // a log entry named like a field keeps the field's meaning
                    values.Add(new(name, value));
                    format.Append(" - ").Append(key).Append(": {").Append(name).Append('}');
                    message.Append(" - ").Append(key).Append(": ").Append(ProgbarLogger.Value(value));
                }
            values.Add(new("{OriginalFormat}", format.ToString()));
            text = message.ToString();
        }

        // A template placeholder must be a name: letters, digits and '_' (metric names such as "top-5" become "top_5").
        private static string Placeholder(string key)
        {
            var chars = key.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_').ToArray();
            return chars.Length == 0 ? "_" : new string(chars);
        }

        public KeyValuePair<string, object?> this[int index] => values[index];
        public int Count => values.Count;
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => values.GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => text;
    }
}
