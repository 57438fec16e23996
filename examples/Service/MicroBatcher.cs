using System.Threading.Channels;

namespace Functional.Examples.Service;

/// <summary>
/// Opportunistic micro-batching (<c>--micro-batch</c>): requests queue here and one loop runs them, taking every request
/// waiting when it is free (up to <see cref="MaxBatch"/> instances) into a single <see cref="ServedModel.Predict"/> call and
/// handing each request its own rows back. Nothing waits for a batch to fill, so a lone request runs at once; under
/// concurrent load the requests that arrive while one Predict runs share the next one.
/// </summary>
public sealed class MicroBatcher : IAsyncDisposable
{
    private sealed record Pending(float[] Values, int Count, TaskCompletionSource<float[]> Done);

    private readonly ServedModel model;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task loop;

    /// <summary>Starts the loop for <paramref name="model"/>.</summary>
    public MicroBatcher(ServedModel model, int maxBatch)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "Expected a positive batch size.");
        this.model = model;
        MaxBatch = maxBatch;
        loop = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>The most instances one combined Predict takes (a single larger request still runs, alone).</summary>
    public int MaxBatch { get; }

    /// <summary>Queues one request's instances; completes with its predictions (or the Predict call's exception).</summary>
    public Task<float[]> PredictAsync(float[] values, int count)
    {
        var pending = new Pending(values, count, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(MicroBatcher));
        return pending.Done.Task;
    }

    private async Task Run()
    {
        var batch = new List<Pending>();
        while (await queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            var total = 0;
            while (queue.Reader.TryPeek(out var next) && (batch.Count == 0 || total + next.Count <= MaxBatch) && queue.Reader.TryRead(out next))
            {
                batch.Add(next);
                total += next.Count;
            }
            try
            {
                var inputs = batch.Count == 1 ? batch[0].Values : Concatenate(batch, total);
                var outputs = model.Predict(inputs, total);
                var offset = 0;
                foreach (var p in batch)
                {
                    p.Done.SetResult(batch.Count == 1 ? outputs : outputs.AsSpan(offset, p.Count * model.OutputSize).ToArray());
                    offset += p.Count * model.OutputSize;
                }
            }
            catch (Exception e)
            {
                foreach (var p in batch) p.Done.TrySetException(e);
            }
        }
    }

    private float[] Concatenate(List<Pending> batch, int total)
    {
        var values = new float[(long)total * model.InputSize];
        var offset = 0;
        foreach (var p in batch)
        {
            p.Values.CopyTo(values, offset);
            offset += p.Values.Length;
        }
        return values;
    }

    /// <summary>Stops taking requests and waits for those queued to be answered.</summary>
    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop.ConfigureAwait(false);
    }
}
