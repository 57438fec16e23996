using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
namespace Functional.Torch.Training;

/// <summary>What a <see cref="TrainingProgress"/> report follows.</summary>
public enum ProgressStage
{
    /// <summary>A training batch of <c>fit</c> finished; the logs are the epoch's running results.</summary>
    TrainBatch,
    /// <summary>An epoch of <c>fit</c> finished; the logs are the epoch's results, validation (<c>val_…</c>) included.</summary>
    Epoch,
    /// <summary>A batch of <c>evaluate</c> finished; the logs are the running results.</summary>
    TestBatch,
    /// <summary>A batch of <c>predict</c> finished; there are no logs.</summary>
    PredictBatch,
}

/// <summary>
/// One progress report of <c>FitAsync</c>, <c>EvaluateAsync</c> or <c>PredictAsync</c> (through <see cref="IProgress{T}"/>):
/// where the call is and its running results.
/// </summary>
/// <param name="Stage">What just finished.</param>
/// <param name="Epoch">The epoch (0-based, as Keras's callbacks count); 0 for evaluate and predict.</param>
/// <param name="Epochs">Fit's <c>epochs</c> argument (the epoch to stop before); 1 for evaluate and predict.</param>
/// <param name="Step">Batches finished in this epoch or pass (1 after the first); for <see cref="ProgressStage.Epoch"/>, the batches the epoch ran.</param>
/// <param name="Steps">Batches in an epoch or pass.</param>
/// <param name="Logs">A copy of the results so far (<c>loss</c>, metrics, and <c>val_…</c> at an epoch's end); empty for predict.</param>
/// <remarks>
/// Reports are made on the thread that runs the work, in order, before the next batch starts; a slow
/// <see cref="IProgress{T}.Report"/> slows the work. <see cref="Progress{T}"/> posts each report to the
/// <see cref="SynchronizationContext"/> it was created on (a UI thread keeps their order; the thread pool may not), so
/// <see cref="Logs"/> is a copy that stays valid after the call moves on.
/// </remarks>
public sealed record TrainingProgress(ProgressStage Stage, int Epoch, int Epochs, int Step, int Steps, IReadOnlyDictionary<string, double> Logs)
{
    private static readonly IReadOnlyDictionary<string, double> None = new Dictionary<string, double>();

    /// <summary>The fraction of the epoch or pass done, from 0 to 1.</summary>
    public double Fraction => Steps <= 0 ? 1.0 : Math.Min(1.0, (double)Step / Steps);

    internal static IReadOnlyDictionary<string, double> Copy(IDictionary<string, double> logs) =>
        new Dictionary<string, double>(logs, StringComparer.Ordinal);

    internal static TrainingProgress Predicted(int step, int steps) => new(ProgressStage.PredictBatch, 0, 1, step, steps, None);
}
