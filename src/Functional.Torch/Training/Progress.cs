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
using System.Text;

namespace Functional.Torch.Training;

/// <summary>
/// Keras's progress display (<c>ProgbarLogger</c> + <c>Progbar</c>). Verbose 1 redraws one line per epoch in place:
/// <c>37/125 ━━━━━━━━━━━━━━━━━━━━ 2s - accuracy: 0.7102 - loss: 0.9012</c>, finishing with the epoch time, the time per step
/// and the validation results. Verbose 2 writes one plain line per epoch (for logs and CI:
/// <c>125/125 - 4s - 30ms/step - accuracy: 0.9512 - loss: 0.1620 - val_accuracy: …</c>).
/// </summary>
/// <remarks>
/// One run at a time; it writes from the fit's thread. When <see cref="CompiledModel.Logger"/> is set, fit adds a
/// <see cref="LoggingCallback"/> instead and writes nothing to the console.
/// </remarks>
public sealed class ProgbarLogger : Callback
{
    private const int Width = 20;
    private readonly TextWriter output;
    private readonly int verbose;
    private readonly bool ansi;
    private readonly Stopwatch clock = new();
    private double lastDraw = double.NegativeInfinity;
    private int epochs;
    private int steps;
    private int seen;
    private bool lineOpen;   // a bar drawn in place and not yet finished (a cancelled epoch leaves one)

    /// <summary>Writes to <paramref name="output"/> (the console by default) at level 1 (bar) or 2 (line per epoch).</summary>
    public ProgbarLogger(int verbose = 1, TextWriter? output = null)
    {
        if (verbose is not (1 or 2)) throw new ArgumentException($"ProgbarLogger: expected verbose 1 or 2. Received: verbose={verbose}.", nameof(verbose));
        this.verbose = verbose;
        this.output = output ?? Console.Out;
        ansi = output is null && !Console.IsOutputRedirected && !Verbose.IsCi() && verbose == 1;
    }

    /// <summary>Minimum seconds between redraws of the bar.</summary>
    public double Interval { get; init; } = 0.05;

    /// <inheritdoc />
    public override void OnTrainBegin(IDictionary<string, double> logs)
    {
        epochs = Params.TryGetValue("epochs", out var e) ? e : 1;
        steps = Params.TryGetValue("steps", out var s) ? s : 0;
    }

    /// <inheritdoc />
    public override void OnEpochBegin(int epoch, IDictionary<string, double> logs)
    {
        output.WriteLine($"Epoch {epoch + 1}/{epochs}");
        output.Flush();
        clock.Restart();
        lastDraw = double.NegativeInfinity;
        seen = 0;
    }

    /// <inheritdoc />
    public override void OnTrainBatchEnd(int batch, IDictionary<string, double> logs)
    {
        seen = batch + 1;
        if (verbose != 1) return;
        var now = clock.Elapsed.TotalSeconds;
        if (now - lastDraw < Interval && seen < steps) return;
        lastDraw = now;
        Draw(logs, final: false);
    }

    /// <inheritdoc />
    public override void OnEpochEnd(int epoch, IDictionary<string, double> logs) => Draw(logs, final: true);

    /// <inheritdoc />
    public override void OnTrainEnd(IDictionary<string, double> logs)
    {
        if (!lineOpen) return;
        output.WriteLine();
        output.Flush();
        lineOpen = false;
    }

    /// <summary>Writes one evaluation line (used by <c>evaluate</c> with verbose on).</summary>
    internal void EvaluationLine(int batches, double seconds, IDictionary<string, double> logs)
    {
        steps = batches;
        seen = batches;
        var perStep = batches == 0 ? 0 : seconds / batches;
        output.WriteLine(Line(seconds, perStep, logs, final: true));
        output.Flush();
    }

    private void Draw(IDictionary<string, double> logs, bool final)
    {
        var elapsed = clock.Elapsed.TotalSeconds;
        var perStep = seen == 0 ? 0 : elapsed / seen;
        var line = Line(elapsed, perStep, logs, final);
        if (verbose == 1 && ansi)
        {
            output.Write("\r" + line + "\x1b[K");
            if (final) output.WriteLine();
            lineOpen = !final;
        }
        else if (final) output.WriteLine(line);
        output.Flush();
    }

    private string Line(double elapsed, double perStep, IDictionary<string, double> logs, bool final)
    {
        var target = steps > 0 ? steps : seen;
        var digits = target <= 0 ? 1 : (int)Math.Floor(Math.Log10(target)) + 1;
        var count = $"{seen.ToString(CultureInfo.InvariantCulture).PadLeft(digits)}/{target}";
        var sb = new StringBuilder();
        if (verbose == 2)
        {
            sb.Append(count).Append(" - ").Append(Seconds(elapsed)).Append(" -").Append(PerStep(perStep));
        }
        else
        {
            sb.Append(Bold(count)).Append(' ');
            var done = target <= 0 ? Width : (int)(Width * (double)seen / target);
            sb.Append(ansi ? $"\x1b[32m{new string('━', done)}\x1b[0m\x1b[37m{new string('━', Width - done)}\x1b[0m"
                           : new string('━', done) + new string('─', Width - done));
            if (final) sb.Append(' ').Append(Bold(Seconds(elapsed))).Append(PerStep(perStep));
            else sb.Append(' ').Append(Bold(Eta(perStep * (target - seen))));
        }
        foreach (var (k, v) in Ordered(logs))
            sb.Append(" - ").Append(k).Append(": ").Append(Value(v));
        return sb.ToString();
    }

    private string Bold(string s) => ansi ? $"\x1b[1m{s}\x1b[0m" : s;

    // Sorted by name, validation entries after: accuracy, loss, val_accuracy, val_loss — the order Keras 3 displays.
    internal static IEnumerable<KeyValuePair<string, double>> Ordered(IDictionary<string, double> logs) =>
        logs.OrderBy(kv => kv.Key.StartsWith("val_", StringComparison.Ordinal) ? 1 : 0)
            .ThenBy(kv => kv.Key, StringComparer.Ordinal);

    internal static string Value(double v) =>
        Math.Abs(v) > 1e-3 || v == 0 ? v.ToString("F4", CultureInfo.InvariantCulture) : v.ToString("0.0000e+00", CultureInfo.InvariantCulture);

    private static string Seconds(double s) => $"{s.ToString("F0", CultureInfo.InvariantCulture)}s";

    private static string PerStep(double t) =>
        t >= 1 || t == 0 ? $" {t.ToString("F0", CultureInfo.InvariantCulture)}s/step"
        : t >= 1e-3 ? $" {(t * 1e3).ToString("F0", CultureInfo.InvariantCulture)}ms/step"
        : $" {(t * 1e6).ToString("F0", CultureInfo.InvariantCulture)}us/step";

    private static string Eta(double eta) =>
        eta > 3600 ? $"{(int)eta / 3600}:{(int)eta % 3600 / 60:00}:{(int)eta % 60:00}"
        : eta > 60 ? $"{(int)eta / 60}:{(int)eta % 60:00}"
        : $"{(int)eta}s";
}
