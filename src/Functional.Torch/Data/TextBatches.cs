using Functional.Layers;
using Functional.Torch.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Data;

/// <summary>
/// Splits texts and labels into batches for <c>fit</c>/<c>evaluate</c>, each vectorized on the host when it is served and
/// padded to its own longest sequence (variable-length batches: the model's masks do the rest), as Keras's
/// <c>dataset.map(vectorize_layer)</c> with padded batches.
/// </summary>
/// <remarks>Shuffled sources draw one permutation per epoch from their own seeded generator, so runs repeat.</remarks>
public sealed class TextBatches : IBatchSource
{
    private readonly TextVectorization vectorizer;
    private readonly string[] texts;
    private readonly float[] labels;
    private readonly int batchSize;
    private readonly bool shuffle;
    private readonly int seed;

    /// <summary>Serves <paramref name="texts"/> with one float label each (targets of shape (batch, 1)).</summary>
    /// <exception cref="ArgumentException">Different counts, an empty list, or a non-positive batch size.</exception>
    public TextBatches(TextVectorization vectorizer, IReadOnlyList<string> texts, IReadOnlyList<float> labels, int batchSize = 32,
        bool shuffle = false, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(vectorizer);
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(labels);
        if (texts.Count != labels.Count)
            throw new ArgumentException($"TextBatches: {texts.Count} texts but {labels.Count} labels; give one label per text.", nameof(labels));
        if (texts.Count == 0) throw new ArgumentException("TextBatches: expected at least one text.", nameof(texts));
        if (batchSize <= 0) throw new ArgumentException($"Expected argument 'batchSize' to be a positive integer. Received: batchSize={batchSize}.", nameof(batchSize));
        if (vectorizer.OutputMode != "int" || vectorizer.OutputSequenceLength is not null)
            throw new ArgumentException(
                $"TextBatches pads each batch to its longest sequence: it needs a TextVectorization in int mode without output_sequence_length. Received: output_mode='{vectorizer.OutputMode}', output_sequence_length={Layer.FormatValue(vectorizer.OutputSequenceLength)}.",
                nameof(vectorizer));
        this.vectorizer = vectorizer;
        this.texts = [.. texts];
        this.labels = [.. labels];
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    /// <inheritdoc />
    public int StepsPerEpoch => (texts.Length + batchSize - 1) / batchSize;

    /// <summary>The number of texts.</summary>
    public int Count => texts.Length;

    /// <inheritdoc />
    public IEnumerable<Batch> Batches(int epoch)
    {
        var order = Enumerable.Range(0, texts.Length).ToArray();
        if (shuffle) new Random(unchecked(seed * 1_000_003 + epoch)).Shuffle(order);   // not HashCode: it is salted per process
        return Serve(order);
    }

    private IEnumerable<Batch> Serve(int[] order)
    {
        for (var start = 0; start < order.Length; start += batchSize)
        {
            var idx = order.Skip(start).Take(batchSize).ToArray();
            var x = vectorizer.Call(idx.Select(i => texts[i]).ToArray());
            var y = torch.tensor(idx.Select(i => labels[i]).ToArray(), [idx.Length, 1L], ScalarType.Float32);
            yield return new Batch([x], [y]);
        }
    }
}
