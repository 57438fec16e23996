using System.Globalization;
using System.Text;
using Functional.Shapes;

namespace Functional.Layers;

/// <summary>
/// A dense host-side array: what a string preprocessing layer computes from strings before anything is a tensor
/// (Functional.Torch turns it into one). <see cref="Shape"/> includes the batch axis; <see cref="Data"/> is row-major.
/// </summary>
public sealed class HostArray<T>
{
    /// <summary>Wraps data of the given shape (the product of the dimensions must be the data's length).</summary>
    public HostArray(T[] data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long size = 1;
        foreach (var d in shape) size = d >= 0 ? checked(size * d) : throw new ArgumentException($"A dimension is negative: ({string.Join(", ", shape)}).", nameof(shape));
        if (size != data.Length) throw new ArgumentException($"Shape ({string.Join(", ", shape)}) holds {size} values; the data has {data.Length}.", nameof(shape));
        Data = data;
        Shape = shape;
    }

    /// <summary>The values, row-major.</summary>
    public T[] Data { get; }

    /// <summary>The dimensions, batch axis first.</summary>
    public long[] Shape { get; }

    /// <summary>The row <paramref name="i"/> of a rank-2 array.</summary>
    public T[] Row(int i) => Shape.Length == 2 ? this.Data.AsSpan(checked((int)(i * Shape[1])), (int)Shape[1]).ToArray()
        : throw new InvalidOperationException($"Row needs a rank-2 array; this one has shape ({string.Join(", ", Shape)}).");
}

/// <summary>
/// The shared logic of Keras's <c>IndexLookup</c> (keras/src/layers/preprocessing/index_lookup.py), the base of
/// <see cref="StringLookup"/>, <see cref="IntegerLookup"/> and the lookup inside <see cref="TextVectorization"/>: the index
/// layout (mask token, OOV indices, then the vocabulary), adapt's ordering, the output modes and TF-IDF weights.
/// </summary>
internal sealed class IndexLookupCore<T> where T : notnull
{
    public const long Dropped = -2;   // a mask token in a non-int mode: not counted (Keras maps it to int64.max, which bincount drops)

    private readonly string layer;
    private readonly Dictionary<T, long> index;
    private readonly T[] tokens;          // the learned/given tokens without special tokens
    private readonly float[]? idf;        // per output index, padded as Keras pads them
    private readonly Func<T, int, long> oovHash;

    public IndexLookupCore(string layer, int? maxTokens, int numOovIndices, T? maskToken, bool hasMask, T oovToken,
        IReadOnlyList<T>? vocabulary, IReadOnlyList<double>? idfWeights, bool invert, string outputMode, bool padToMaxTokens,
        Func<T, int, long> oovHash, IEqualityComparer<T> comparer)
    {
        this.layer = layer;
        this.oovHash = oovHash;
        MaxTokens = maxTokens;
        NumOovIndices = numOovIndices;
        MaskToken = maskToken;
        HasMask = hasMask;
        OovToken = oovToken;
        Invert = invert;
        OutputMode = outputMode;
        PadToMaxTokens = padToMaxTokens;
        OovStart = hasMask && outputMode == "int" ? 1 : 0;
        TokenStart = OovStart + numOovIndices;
        if (vocabulary is null)
        {
            tokens = [];
            index = new(comparer);
            HasVocabulary = false;
            if (idfWeights is not null)
                throw new ArgumentException($"{layer}: `idf_weights` were given without a `vocabulary`; pass both (Keras's set_vocabulary).", "idfWeights");
            return;
        }
        HasVocabulary = true;
        if (vocabulary.Count == 0)
            throw new ArgumentException($"{layer}: Cannot set an empty vocabulary. Received: vocabulary=[].", "vocabulary");
        var special = Enumerable.Repeat(maskToken!, OovStart).Concat(Enumerable.Repeat(oovToken, numOovIndices)).ToArray();
        var foundSpecial = vocabulary.Count >= TokenStart && special.Select((s, i) => comparer.Equals(s, vocabulary[i])).All(b => b);
        tokens = (foundSpecial ? vocabulary.Skip(TokenStart) : vocabulary).ToArray();
        index = new(comparer);
        var repeated = new List<T>();
        for (var i = 0; i < tokens.Length; i++)
            if (!index.TryAdd(tokens[i], TokenStart + i) && !repeated.Contains(tokens[i])) repeated.Add(tokens[i]);
        if (repeated.Count > 0)
            throw new ArgumentException(
                $"{layer}: The passed vocabulary has at least one repeated term. Please uniquify your dataset. The repeated terms are: [{string.Join(", ", repeated.Take(10).Select(Show))}].",
                "vocabulary");
        var specialText = $"[{string.Join(", ", special.Select(Show))}]";
        if (hasMask && index.ContainsKey(maskToken!))
            throw new ArgumentException(
                $"{layer}: Found reserved mask token at unexpected location in `vocabulary`. Note that passed `vocabulary` does not need to include the OOV and mask tokens. " +
                $"Either remove all mask and OOV tokens, or include them only at the start of the vocabulary in precisely this order: {specialText}. Received: mask_token={Show(maskToken!)}.",
                "vocabulary");
        if (invert && index.ContainsKey(oovToken))
            throw new ArgumentException(
                $"{layer}: Found reserved OOV token at unexpected location in `vocabulary`. Note that passed `vocabulary` does not need to include the OOV and mask tokens. " +
                $"Either remove all mask and OOV tokens, or include them only at the start of the vocabulary in precisely this order: {specialText}. Received: oov_token={Show(oovToken)}.",
                "vocabulary");
        if (maxTokens is { } max && TokenStart + tokens.Length > max)
            throw new ArgumentException(
                $"{layer}: Attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary size is {TokenStart + tokens.Length}; `max_tokens` is {max}.",
                "vocabulary");
        if (outputMode == "tf_idf")
        {
            if (idfWeights is null)
                throw new ArgumentException($"{layer}: When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` argument must also be provided.", "idfWeights");
            if (idfWeights.Count != vocabulary.Count)
                throw new ArgumentException(
                    $"{layer}: `idf_weights` must be the same length as vocabulary. len(idf_weights) is {idfWeights.Count}; len(vocabulary) is {vocabulary.Count}.", "idfWeights");
            // Keras pads the front (the special indices) with the average weight unless the vocabulary gave them, and the
            // back with zeros up to max_tokens when padding to it; float32 as Keras's floatx.
            var front = foundSpecial ? 0 : TokenStart;
            var average = idfWeights.Average();
            var total = padToMaxTokens && maxTokens is { } m ? Math.Max(m, front + idfWeights.Count) : front + idfWeights.Count;
            idf = new float[total];
            for (var i = 0; i < front; i++) idf[i] = (float)average;
            for (var i = 0; i < idfWeights.Count; i++) idf[front + i] = (float)idfWeights[i];
        }
    }

    public int? MaxTokens { get; }
    public int NumOovIndices { get; }
    public T? MaskToken { get; }
    public bool HasMask { get; }
    public T OovToken { get; }
    public bool Invert { get; }
    public string OutputMode { get; }
    public bool PadToMaxTokens { get; }
    public int OovStart { get; }
    public int TokenStart { get; }
    public bool HasVocabulary { get; }

    /// <summary>Keras's <c>vocabulary_size()</c>: the special indices and the tokens.</summary>
    public int VocabularySize => TokenStart + tokens.Length;

    /// <summary>The size of the encoded axis in the non-int modes, or null while it is unknown (no vocabulary yet).</summary>
    public int? Depth => PadToMaxTokens ? MaxTokens : HasVocabulary ? VocabularySize : null;

    /// <summary>Keras's <c>get_vocabulary(include_special_tokens)</c>.</summary>
    public List<T> GetVocabulary(bool includeSpecialTokens)
    {
        var vocab = new List<T>();
        if (includeSpecialTokens)
        {
            if (OovStart == 1) vocab.Add(MaskToken!);
            for (var i = 0; i < NumOovIndices; i++) vocab.Add(OovToken);
        }
        vocab.AddRange(tokens);
        return vocab;
    }

    private string Show(T value) => value is string s ? $"'{s}'" : Convert.ToString(value, CultureInfo.InvariantCulture) ?? "None";

    /// <summary>The index of one token (int mode), <see cref="Dropped"/> for the mask token in other modes.</summary>
    public long Lookup(T token)
    {
        RequireVocabulary();
        if (HasMask && EqualityComparer<T>.Default.Equals(token, MaskToken!)) return OutputMode == "int" ? 0 : Dropped;
        if (index.TryGetValue(token, out var i)) return i;
        return NumOovIndices switch
        {
            0 => throw new ArgumentException(
                $"{layer}: When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values [{Show(token)}], consider setting `num_oov_indices=1`.", "inputs"),
            1 => OovStart,
            _ => OovStart + oovHash(token, NumOovIndices),
        };
    }

    /// <summary>The token at an index (invert): the mask token at 0 when there is one, the OOV token for unknown indices.</summary>
    public T InverseLookup(long i)
    {
        RequireVocabulary();
        if (HasMask && i == 0) return MaskToken!;
        return i >= TokenStart && i < VocabularySize ? tokens[i - TokenStart] : OovToken;
    }

    private void RequireVocabulary()
    {
        if (!HasVocabulary)
            throw new InvalidOperationException(
                $"{layer} has no vocabulary: pass a `vocabulary` argument to the layer, or call `Adapt` with some sample data (which returns the adapted layer).");
    }

    /// <summary>Int mode: the index of each token of a rank-2 (or rank-1) batch.</summary>
    public HostArray<long> Indices(IReadOnlyList<T> flat, long[] shape) => new(flat.Select(Lookup).ToArray(), shape);

    /// <summary>
    /// one_hot / multi_hot / count / tf_idf on a batch given as rows of tokens (Keras's <c>encode_categorical_inputs</c>
    /// over the last axis), float32 as Keras's floatx.
    /// </summary>
    public HostArray<float> Encode(IReadOnlyList<IReadOnlyList<T>> rows, long[] leading)
    {
        RequireVocabulary();
        var depth = Depth!.Value;
        var data = new float[checked(rows.Count * depth)];
        for (var r = 0; r < rows.Count; r++)
        {
            var offset = r * depth;
            foreach (var token in rows[r])
            {
                var i = Lookup(token);
                if (i == Dropped || i >= depth) continue;
                if (OutputMode == "multi_hot") data[offset + i] = 1;
                else data[offset + i] += 1;
            }
            if (OutputMode == "tf_idf")
                for (var i = 0; i < depth; i++) data[offset + i] *= i < idf!.Length ? idf[i] : 0f;
        }
        return new HostArray<float>(data, [.. leading, depth]);
    }

    /// <summary>one_hot: one vector per element.</summary>
    public HostArray<float> OneHot(IReadOnlyList<T> flat, long[] shape)
    {
        RequireVocabulary();
        var depth = Depth!.Value;
        var data = new float[checked(flat.Count * depth)];
        for (var k = 0; k < flat.Count; k++)
        {
            var i = Lookup(flat[k]);
            if (i != Dropped && i < depth) data[k * depth + i] = 1;
        }
        // Keras encodes on a last axis of size 1, else appends one.
        long[] outShape = shape.Length > 1 && shape[^1] == 1 ? [.. shape[..^1], depth] : [.. shape, depth];
        return new HostArray<float>(data, outShape);
    }

    /// <summary>
    /// Keras's adapt: counts every token of every document, drops the mask and OOV tokens, sorts by count (high to low)
    /// with ties broken by the tokens' own order (high to low; strings compared as UTF-8 bytes, as numpy compares them),
    /// keeps <c>max_tokens − (special indices)</c> and, for tf_idf, computes <c>log(1 + documents / (1 + document count))</c>.
    /// </summary>
    public static (T[] Vocabulary, double[]? Idf) Adapt(IEnumerable<IReadOnlyList<T>> documents, int? maxTokens, int tokenStart,
        T? maskToken, bool hasMask, T? oovToken, bool tfIdf, IComparer<T> order, IEqualityComparer<T> comparer)
    {
        var counts = new Dictionary<T, long>(comparer);
        var documentCounts = new Dictionary<T, long>(comparer);
        long documentTotal = 0;
        var seen = new HashSet<T>(comparer);
        foreach (var document in documents)
        {
            documentTotal++;
            seen.Clear();
            foreach (var token in document)
            {
                counts[token] = counts.GetValueOrDefault(token) + 1;
                if (tfIdf && seen.Add(token)) documentCounts[token] = documentCounts.GetValueOrDefault(token) + 1;
            }
        }
        if (hasMask) counts.Remove(maskToken!);
        if (oovToken is not null) counts.Remove(oovToken);
        var sorted = counts.OrderByDescending(kv => kv.Value).ThenByDescending(kv => kv.Key, order).Select(kv => kv.Key);
        var vocabulary = (maxTokens is { } max ? sorted.Take(Math.Max(max - tokenStart, 0)) : sorted).ToArray();
        double[]? idf = null;
        if (tfIdf)
            idf = vocabulary.Select(t => (double)(float)Math.Log(1.0 + (double)documentTotal / (1.0 + documentCounts.GetValueOrDefault(t)))).ToArray();
        return (vocabulary, idf);
    }
}

/// <summary>Orders strings as numpy orders the UTF-8 bytes Keras sorts (code point order, which UTF-16's ordinal order is not).</summary>
internal sealed class Utf8Order : IComparer<string>
{
    public static readonly Utf8Order Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        var a = x.EnumerateRunes().GetEnumerator();
        var b = y.EnumerateRunes().GetEnumerator();
        while (true)
        {
            var hasA = a.MoveNext();
            var hasB = b.MoveNext();
            if (!hasA || !hasB) return hasA ? 1 : hasB ? -1 : 0;
            var c = a.Current.Value.CompareTo(b.Current.Value);
            if (c != 0) return c;
        }
    }
}

/// <summary>
/// Google's FarmHash <c>Fingerprint64</c> (farmhashna's <c>Hash64</c>) of a string's UTF-8 bytes: TensorFlow's
/// <c>tf.strings.to_hash_bucket_fast</c>, which Keras's lookups use to spread OOV strings over several OOV indices.
/// </summary>
public static class FarmHash
{
    private const ulong K0 = 0xc3a5c85c97cb3127UL, K1 = 0xb492b66fbe98f273UL, K2 = 0x9ae16a3b2f90404fUL;

    /// <summary>The 64-bit fingerprint of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static ulong Fingerprint64(string text) => Fingerprint64(Encoding.UTF8.GetBytes(text ?? throw new ArgumentNullException(nameof(text))));

    /// <summary>TensorFlow's <c>to_hash_bucket_fast</c>: the fingerprint modulo <paramref name="buckets"/>.</summary>
    public static long Bucket(string text, int buckets) => (long)(Fingerprint64(text) % (ulong)buckets);

    /// <summary>The 64-bit fingerprint of <paramref name="s"/>.</summary>
    public static ulong Fingerprint64(ReadOnlySpan<byte> s)
    {
        var len = s.Length;
        if (len <= 32) return len <= 16 ? HashLen0to16(s) : HashLen17to32(s);
        if (len <= 64) return HashLen33to64(s);
        const ulong seed = 81;
        ulong x = seed, y = unchecked(seed * K1 + 113), z = unchecked(ShiftMix(y * K2 + 113) * K2);
        (ulong First, ulong Second) v = (0, 0), w = (0, 0);
        unchecked
        {
            x = x * K2 + Fetch64(s, 0);
            var end = (len - 1) / 64 * 64;
            var last64 = end + ((len - 1) & 63) - 63;
            var p = 0;
            do
            {
                x = Rotate(x + y + v.First + Fetch64(s, p + 8), 37) * K1;
                y = Rotate(y + v.Second + Fetch64(s, p + 48), 42) * K1;
                x ^= w.Second;
                y += v.First + Fetch64(s, p + 40);
                z = Rotate(z + w.First, 33) * K1;
                v = WeakHashLen32WithSeeds(s, p, v.Second * K1, x + w.First);
                w = WeakHashLen32WithSeeds(s, p + 32, z + w.Second, y + Fetch64(s, p + 16));
                (z, x) = (x, z);
                p += 64;
            } while (p != end);
            var mul = K1 + ((z & 0xff) << 1);
            p = last64;
            w.First += (ulong)((len - 1) & 63);
            v.First += w.First;
            w.First += v.First;
            x = Rotate(x + y + v.First + Fetch64(s, p + 8), 37) * mul;
            y = Rotate(y + v.Second + Fetch64(s, p + 48), 42) * mul;
            x ^= w.Second * 9;
            y += v.First * 9 + Fetch64(s, p + 40);
            z = Rotate(z + w.First, 33) * mul;
            v = WeakHashLen32WithSeeds(s, p, v.Second * mul, x + w.First);
            w = WeakHashLen32WithSeeds(s, p + 32, z + w.Second, y + Fetch64(s, p + 16));
            (z, x) = (x, z);
            return HashLen16(HashLen16(v.First, w.First, mul) + ShiftMix(y) * K0 + z, HashLen16(v.Second, w.Second, mul) + x, mul);
        }
    }

    private static ulong Fetch64(ReadOnlySpan<byte> s, int i) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(s[i..]);
    private static ulong Fetch32(ReadOnlySpan<byte> s, int i) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(s[i..]);
    private static ulong Rotate(ulong v, int shift) => shift == 0 ? v : (v >> shift) | (v << (64 - shift));
    private static ulong ShiftMix(ulong v) => v ^ (v >> 47);

    private static ulong HashLen16(ulong u, ulong v, ulong mul)
    {
        unchecked
        {
            var a = (u ^ v) * mul;
            a ^= a >> 47;
            var b = (v ^ a) * mul;
            b ^= b >> 47;
            return b * mul;
        }
    }

    private static ulong HashLen0to16(ReadOnlySpan<byte> s)
    {
        var len = (ulong)s.Length;
        unchecked
        {
            if (len >= 8)
            {
                var mul = K2 + len * 2;
                var a = Fetch64(s, 0) + K2;
                var b = Fetch64(s, s.Length - 8);
                var c = Rotate(b, 37) * mul + a;
                var d = (Rotate(a, 25) + b) * mul;
                return HashLen16(c, d, mul);
            }
            if (len >= 4)
            {
                var mul = K2 + len * 2;
                var a = Fetch32(s, 0);
                return HashLen16(len + (a << 3), Fetch32(s, s.Length - 4), mul);
            }
            if (len > 0)
            {
                ulong a = s[0], b = s[s.Length >> 1], c = s[s.Length - 1];
                var y = (uint)(a + (b << 8));
                var z = (uint)(len + (c << 2));
                return ShiftMix(y * K2 ^ z * K0) * K2;
            }
            return K2;
        }
    }

    private static ulong HashLen17to32(ReadOnlySpan<byte> s)
    {
        var len = s.Length;
        unchecked
        {
            var mul = K2 + (ulong)len * 2;
            var a = Fetch64(s, 0) * K1;
            var b = Fetch64(s, 8);
            var c = Fetch64(s, len - 8) * mul;
            var d = Fetch64(s, len - 16) * K2;
            return HashLen16(Rotate(a + b, 43) + Rotate(c, 30) + d, a + Rotate(b + K2, 18) + c, mul);
        }
    }

    private static ulong HashLen33to64(ReadOnlySpan<byte> s)
    {
        var len = s.Length;
        unchecked
        {
            var mul = K2 + (ulong)len * 2;
            var a = Fetch64(s, 0) * K2;
            var b = Fetch64(s, 8);
            var c = Fetch64(s, len - 8) * mul;
            var d = Fetch64(s, len - 16) * K2;
            var y = Rotate(a + b, 43) + Rotate(c, 30) + d;
            var z = HashLen16(y, a + Rotate(b + K2, 18) + c, mul);
            var e = Fetch64(s, 16) * mul;
            var f = Fetch64(s, 24);
            var g = (y + Fetch64(s, len - 32)) * mul;
            var h = (z + Fetch64(s, len - 24)) * mul;
            return HashLen16(Rotate(e + f, 43) + Rotate(g, 30) + h, e + Rotate(f + a, 18) + g, mul);
        }
    }

    private static (ulong, ulong) WeakHashLen32WithSeeds(ReadOnlySpan<byte> s, int p, ulong a, ulong b)
    {
        unchecked
        {
            ulong w = Fetch64(s, p), x = Fetch64(s, p + 8), y = Fetch64(s, p + 16), z = Fetch64(s, p + 24);
            a += w;
            b = Rotate(b + a + z, 21);
            var c = a;
            a += x;
            a += y;
            b += Rotate(a, 44);
            return (a + z, b + c);
        }
    }
}

/// <summary>What a lookup or vectorization computes on the host: integer indices (<c>int</c> mode) or float32 encodings.</summary>
public sealed record HostOutput(HostArray<long>? Ints, HostArray<float>? Floats)
{
    /// <summary>The shape, batch axis first.</summary>
    public long[] Shape => Ints?.Shape ?? Floats!.Shape;
}

/// <summary>Argument checks and helpers the three text/lookup records share.</summary>
internal static class LookupArguments
{
    public static readonly string[] OutputModes = ["int", "one_hot", "multi_hot", "count", "tf_idf"];

    // Keras's deprecated spellings.
    public static string OutputMode(Layer layer, string? value, Func<string, object?, string, ArgumentException> error)
    {
        var mode = value switch { "binary" => "multi_hot", "tf-idf" => "tf_idf", _ => value };
        return mode is not null && OutputModes.Contains(mode) ? mode
            : throw error("output_mode", value, $"one of {string.Join(", ", OutputModes.Select(m => $"'{m}'"))}");
    }

    public static int? MaxTokens(int? value, Func<string, object?, string, ArgumentException> error) =>
        value is null or > 1 ? value : throw error("max_tokens", value, "None or an integer greater than 1 (the vocabulary would be empty)");

    public static int NumOov(int value, Func<string, object?, string, ArgumentException> error) =>
        value >= 0 ? value : throw error("num_oov_indices", value, "an integer greater than or equal to 0");

    public static void Common(string layer, int? maxTokens, bool padToMaxTokens, bool invert, string outputMode, bool sparse, IReadOnlyList<double>? idfWeights)
    {
        if (padToMaxTokens && maxTokens is null)
            throw new ArgumentException($"{layer}: If pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens=None.", "maxTokens");
        if (invert && outputMode != "int")
            throw new ArgumentException($"{layer}: `output_mode` must be `'int'` when `invert` is true. Received: output_mode={outputMode}.", "invert");
        if (sparse)
            throw new ArgumentException(
                $"{layer}: `sparse=True` can only be used with the TensorFlow backend (Keras 3's own rule for the torch and jax backends); " +
                "the outputs here are dense tensors. Received: sparse=True.", "sparse");
        if (idfWeights is not null && outputMode != "tf_idf")
            throw new ArgumentException(
                $"{layer}: `idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: idf_weights=[{string.Join(", ", idfWeights.Take(5))}{(idfWeights.Count > 5 ? ", …" : "")}] and output_mode={outputMode}.",
                "idfWeights");
        if (idfWeights is not null && idfWeights.Any(w => !double.IsFinite(w)))
            throw new ArgumentException($"{layer}: `idf_weights` must be finite numbers.", "idfWeights");
    }

    /// <summary>Keras's <c>IndexLookup.compute_output_shape</c> on a per-sample shape (the batch axis implied).</summary>
    public static Shape OutputShape(Layer layer, Shape input, string outputMode, int? depth)
    {
        if (outputMode == "int") return input;
        if (outputMode == "one_hot")
            return input.Rank >= 1 && input[-1] == 1 ? new Shape(input.Take(input.Rank - 1).Append(depth)) : new Shape(input.Append(depth));
        if (input.Rank == 0)
            throw new ShapeException(layer, [input], null,
                $"output_mode='{outputMode}' encodes the last axis of each sample, and a sample here has no axis (Keras would encode the batch axis); give each sample a last axis, e.g. an input of shape (1,).");
        return new Shape(input.Take(input.Rank - 1).Append(depth));
    }

    public static bool SequenceEqual<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b) =>
        a is null ? b is null : b is not null && a.SequenceEqual(b);

    public static int Hash<T>(IReadOnlyList<T>? a)
    {
        if (a is null) return 0;
        var h = new HashCode();
        h.Add(a.Count);
        foreach (var x in a.Take(16)) h.Add(x);
        return h.ToHashCode();
    }

    public static string[] Rows(IReadOnlyList<string> data, string layer) =>
        data.Select((s, i) => s ?? throw new ArgumentNullException(nameof(data), $"{layer}: input string {i} is null.")).ToArray();
}

/// <summary>
/// Maps strings to indices in a vocabulary (Keras <c>StringLookup</c>, keras/src/layers/preprocessing/string_lookup.py), or
/// encodes them as one_hot / multi_hot / count / tf_idf vectors; with <see cref="Invert"/> maps indices back to strings.
/// </summary>
/// <remarks>
/// <para>Indices: the mask token (0, when <see cref="MaskToken"/> is set and the mode is <c>int</c>), then
/// <see cref="NumOovIndices"/> OOV indices, then the vocabulary. Several OOV indices spread unknown strings by FarmHash64,
/// as TensorFlow's <c>to_hash_bucket_fast</c>. <see cref="Adapt(IEnumerable{string})"/> returns a copy whose
/// <see cref="Vocabulary"/> (and, for tf_idf, <see cref="IdfWeights"/>) is learned as Keras learns it; the vocabulary is part
/// of the config, so a model's JSON carries it.</para>
/// <para>Strings are not tensors: call the layer on the host (<see cref="Apply(IReadOnlyList{string})"/>, or Functional.Torch's
/// <c>Call</c>, which returns a tensor), or declare it after a string <see cref="Input"/> (<c>Dtype = "string"</c>).</para>
/// </remarks>
public sealed record StringLookup : Layer
{
    /// <summary>Keras's arguments and defaults.</summary>
    public StringLookup(int? maxTokens = null, int numOovIndices = 1, string? maskToken = null, string oovToken = "[UNK]",
        string[]? vocabulary = null, double[]? idfWeights = null, bool invert = false, string outputMode = "int",
        bool padToMaxTokens = false, bool sparse = false, string encoding = "utf-8")
    {
        MaxTokens = maxTokens;
        NumOovIndices = numOovIndices;
        MaskToken = maskToken;
        OovToken = oovToken;
        Vocabulary = vocabulary;
        IdfWeights = idfWeights;
        Invert = invert;
        OutputMode = outputMode;
        PadToMaxTokens = padToMaxTokens;
        Sparse = sparse;
        Encoding = encoding;
        Validate();
        EndConstruction();
    }

    /// <summary>The largest vocabulary, special indices included; null for no cap.</summary>
    public int? MaxTokens { get; init { field = LookupArguments.MaxTokens(value, ArgumentError); Changed(); } }

    /// <summary>How many OOV indices (default 1); 0 makes an OOV input an error.</summary>
    public int NumOovIndices { get; init { field = LookupArguments.NumOov(value, ArgumentError); Changed(); } }

    /// <summary>The token of masked inputs (index 0 in int mode, dropped in the others); null for none.</summary>
    public string? MaskToken { get; init { field = value; Changed(); } }

    /// <summary>The token an inverse lookup returns for OOV indices (default <c>[UNK]</c>).</summary>
    public string OovToken { get; init { field = value ?? throw ArgumentError("oov_token", null, "a string"); Changed(); } }

    /// <summary>The vocabulary, as given or learned by <see cref="Adapt(IEnumerable{string})"/>; null before either.</summary>
    public IReadOnlyList<string>? Vocabulary
    {
        get;
        init { field = value is null ? null : Array.AsReadOnly(value.Select((s, i) => s ?? throw ArgumentError("vocabulary", $"[{i}]=None", "a list of strings")).ToArray()); Changed(); }
    }

    /// <summary>tf_idf's inverse document frequency per vocabulary entry.</summary>
    public IReadOnlyList<double>? IdfWeights { get; init { field = value is null ? null : Array.AsReadOnly(value.ToArray()); Changed(); } }

    /// <summary>Map indices to strings instead (int mode only).</summary>
    public bool Invert { get; init { field = value; Changed(); } }

    /// <summary><c>int</c> (default), <c>one_hot</c>, <c>multi_hot</c>, <c>count</c> or <c>tf_idf</c>.</summary>
    public string OutputMode { get; init { field = LookupArguments.OutputMode(this, value, ArgumentError); Changed(); } }

    /// <summary>Pad the encoded axis to <see cref="MaxTokens"/> in the non-int modes.</summary>
    public bool PadToMaxTokens { get; init { field = value; Changed(); } }

    /// <summary>Keras's <c>sparse</c>: only false (Keras 3 refuses true outside TensorFlow too).</summary>
    public bool Sparse { get; init { field = value; Changed(); } }

    /// <summary>The text encoding: only <c>utf-8</c> (.NET strings are Unicode).</summary>
    public string Encoding { get; init => field = value is "utf-8" or "UTF-8" ? value : throw ArgumentError("encoding", value, "'utf-8'"); }

    private IndexLookupCore<string>? core;
    private IndexLookupCore<string> Core => core ??= NewCore();

    private void Changed()
    {
        core = null;
        Recheck(Validate);
    }

    private void Validate()
    {
        LookupArguments.Common(ClassName, MaxTokens, PadToMaxTokens, Invert, OutputMode, Sparse, IdfWeights);
        core = NewCore();
    }

    private IndexLookupCore<string> NewCore() => new(ClassName, MaxTokens, NumOovIndices, MaskToken, MaskToken is not null, OovToken,
        Vocabulary, IdfWeights, Invert, OutputMode, PadToMaxTokens, (s, n) => FarmHash.Bucket(s, n), StringComparer.Ordinal);

    /// <summary>Keras's <c>get_vocabulary</c>: with the mask and OOV tokens first unless <paramref name="includeSpecialTokens"/> is false.</summary>
    public IReadOnlyList<string> GetVocabulary(bool includeSpecialTokens = true) => Core.GetVocabulary(includeSpecialTokens);

    /// <summary>Keras's <c>vocabulary_size()</c>: special indices included.</summary>
    public int VocabularySize() => Core.VocabularySize;

    /// <summary>Keras's <c>adapt</c> on a list of strings, each its own document: a copy with the learned vocabulary.</summary>
    public StringLookup Adapt(IEnumerable<string> data) => Adapt(data.Select(s => (IReadOnlyList<string>)[s]));

    /// <summary>Keras's <c>adapt</c> on rows of strings (each row a document): a copy with the learned vocabulary.</summary>
    public StringLookup Adapt(IEnumerable<IReadOnlyList<string>> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (vocabulary, idf) = IndexLookupCore<string>.Adapt(data, MaxTokens, Core.TokenStart, MaskToken, MaskToken is not null, OovToken,
            OutputMode == "tf_idf", Utf8Order.Instance, StringComparer.Ordinal);
        return vocabulary.Length == 0 ? this
            : new StringLookup(MaxTokens, NumOovIndices, MaskToken, OovToken, vocabulary, idf, Invert, OutputMode, PadToMaxTokens, Sparse, Encoding)
            { Name = Name, Trainable = Trainable, Dtype = Dtype, ActivityRegularizer = ActivityRegularizer };
    }

    /// <summary>The layer on a rank-1 batch of strings (Keras's <c>layer(["a", "b"])</c>).</summary>
    public HostOutput Apply(IReadOnlyList<string> data)
    {
        var flat = LookupArguments.Rows(data, ClassName);
        return Run(flat, [flat.Length], () => [flat]);
    }

    /// <summary>The layer on a rank-2 batch of strings (rows of equal length).</summary>
    public HostOutput Apply(IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var width = rows.Count == 0 ? 0 : rows[0].Count;
        if (rows.Any(r => r.Count != width))
            throw new ArgumentException($"{ClassName}: the rows of a rank-2 input must have one length; they have {string.Join(", ", rows.Select(r => r.Count).Distinct())}.", nameof(rows));
        var flat = rows.SelectMany(r => LookupArguments.Rows(r, ClassName)).ToArray();
        return Run(flat, [rows.Count, width], () => rows);
    }

    private HostOutput Run(string[] flat, long[] shape, Func<IReadOnlyList<IReadOnlyList<string>>> rows)
    {
        if (Invert) throw new InvalidOperationException($"{ClassName} with invert=True maps indices to strings: use Inverse.");
        return OutputMode switch
        {
            "int" => new(Core.Indices(flat, shape), null),
            "one_hot" => new(null, Core.OneHot(flat, shape)),
            _ => new(null, Core.Encode(rows(), shape.Length == 1 ? [] : shape[..^1])),
        };
    }

    /// <summary>The inverse lookup (<see cref="Invert"/>): each index's string, the OOV token for unknown indices.</summary>
    public HostArray<string> Inverse(HostArray<long> indices)
    {
        if (!Invert) throw new InvalidOperationException($"{ClassName}: Inverse needs invert=True.");
        return new(indices.Data.Select(Core.InverseLookup).ToArray(), indices.Shape);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => LookupArguments.OutputShape(this, input, OutputMode, Core.Depth);

    /// <inheritdoc />
    public bool Equals(StringLookup? other) =>
        other is not null && base.Equals(other) && MaxTokens == other.MaxTokens && NumOovIndices == other.NumOovIndices && MaskToken == other.MaskToken
        && OovToken == other.OovToken && Invert == other.Invert && OutputMode == other.OutputMode && PadToMaxTokens == other.PadToMaxTokens
        && Sparse == other.Sparse && Encoding == other.Encoding
        && LookupArguments.SequenceEqual(Vocabulary, other.Vocabulary) && LookupArguments.SequenceEqual(IdfWeights, other.IdfWeights);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), MaxTokens, NumOovIndices, MaskToken, OutputMode, LookupArguments.Hash(Vocabulary));
}

/// <summary>
/// Maps integers to indices in a vocabulary (Keras <c>IntegerLookup</c>, keras/src/layers/preprocessing/integer_lookup.py),
/// or encodes them as one_hot / multi_hot / count / tf_idf vectors; with <see cref="Invert"/> maps indices back. A tensor layer:
/// integer tensors in, int64 indices (or float32 encodings) out.
/// </summary>
/// <remarks>Several OOV indices take <c>token mod num_oov_indices</c> (Keras's default <c>oov_method="floormod"</c>) or
/// FarmHash64 of the token's decimal text (<c>farmhash</c>).
/// <see cref="Adapt(IEnumerable{long})"/> returns a copy with the learned vocabulary, which the config carries.</remarks>
public sealed record IntegerLookup : Layer
{
    /// <summary>Keras's arguments and defaults.</summary>
    public IntegerLookup(int? maxTokens = null, int numOovIndices = 1, long? maskToken = null, long oovToken = -1,
        long[]? vocabulary = null, string vocabularyDtype = "int64", double[]? idfWeights = null, bool invert = false,
        string outputMode = "int", bool sparse = false, bool padToMaxTokens = false, string oovMethod = "floormod")
    {
        MaxTokens = maxTokens;
        NumOovIndices = numOovIndices;
        MaskToken = maskToken;
        OovToken = oovToken;
        Vocabulary = vocabulary;
        VocabularyDtype = vocabularyDtype;
        IdfWeights = idfWeights;
        Invert = invert;
        OutputMode = outputMode;
        Sparse = sparse;
        PadToMaxTokens = padToMaxTokens;
        OovMethod = oovMethod;
        Validate();
        EndConstruction();
    }

    /// <summary>The largest vocabulary, special indices included; null for no cap.</summary>
    public int? MaxTokens { get; init { field = LookupArguments.MaxTokens(value, ArgumentError); Changed(); } }

    /// <summary>How many OOV indices (default 1); 0 makes an OOV input an error.</summary>
    public int NumOovIndices { get; init { field = LookupArguments.NumOov(value, ArgumentError); Changed(); } }

    /// <summary>The value of masked inputs (index 0 in int mode, dropped in the others); null for none.</summary>
    public long? MaskToken { get; init { field = value; Changed(); } }

    /// <summary>The value an inverse lookup returns for OOV indices (default −1).</summary>
    public long OovToken { get; init { field = value; Changed(); } }

    /// <summary>The vocabulary, as given or learned by <see cref="Adapt(IEnumerable{long})"/>; null before either.</summary>
    public IReadOnlyList<long>? Vocabulary { get; init { field = value is null ? null : Array.AsReadOnly(value.ToArray()); Changed(); } }

    /// <summary>Keras's <c>vocabulary_dtype</c>: only <c>int64</c>, as in Keras.</summary>
    public string VocabularyDtype
    {
        get;
        init => field = value == "int64" ? value
            : throw new ArgumentException($"{ClassName}: Only `vocabulary_dtype='int64'` is supported at this time. Received: vocabulary_dtype={value}.", "vocabularyDtype");
    }

    /// <summary>tf_idf's inverse document frequency per vocabulary entry.</summary>
    public IReadOnlyList<double>? IdfWeights { get; init { field = value is null ? null : Array.AsReadOnly(value.ToArray()); Changed(); } }

    /// <summary>Map indices to values instead (int mode only).</summary>
    public bool Invert { get; init { field = value; Changed(); } }

    /// <summary><c>int</c> (default), <c>one_hot</c>, <c>multi_hot</c>, <c>count</c> or <c>tf_idf</c>.</summary>
    public string OutputMode { get; init { field = LookupArguments.OutputMode(this, value, ArgumentError); Changed(); } }

    /// <summary>Keras's <c>sparse</c>: only false.</summary>
    public bool Sparse { get; init { field = value; Changed(); } }

    /// <summary>Pad the encoded axis to <see cref="MaxTokens"/> in the non-int modes.</summary>
    public bool PadToMaxTokens { get; init { field = value; Changed(); } }

    /// <summary>
    /// How several OOV indices are chosen: <c>floormod</c> (Keras's default, <c>value mod num_oov_indices</c>) or
    /// <c>farmhash</c> (FarmHash64 of the value's decimal text, as Keras's <c>tf.strings.as_string</c> then
    /// <c>to_hash_bucket_fast</c>).
    /// </summary>
    public string OovMethod
    {
        get;
        init { field = value is "floormod" or "farmhash" ? value : throw ArgumentError("oov_method", value, "one of 'floormod', 'farmhash'"); Changed(); }
    }

    private IndexLookupCore<long>? core;
    private IndexLookupCore<long> Core => core ??= NewCore();

    private void Changed()
    {
        core = null;
        Recheck(Validate);
    }

    private void Validate()
    {
        LookupArguments.Common(ClassName, MaxTokens, PadToMaxTokens, Invert, OutputMode, Sparse, IdfWeights);
        core = NewCore();
    }

    // Keras's floormod: Python's modulo, never negative.
    private IndexLookupCore<long> NewCore() => new(ClassName, MaxTokens, NumOovIndices, MaskToken ?? 0, MaskToken is not null, OovToken,
        Vocabulary, IdfWeights, Invert, OutputMode, PadToMaxTokens,
        OovMethod == "farmhash" ? (Func<long, int, long>)((v, n) => FarmHash.Bucket(v.ToString(CultureInfo.InvariantCulture), n)) : (v, n) => ((v % n) + n) % n,
        EqualityComparer<long>.Default);

    /// <summary>Keras's <c>get_vocabulary</c>.</summary>
    public IReadOnlyList<long> GetVocabulary(bool includeSpecialTokens = true) => Core.GetVocabulary(includeSpecialTokens);

    /// <summary>Keras's <c>vocabulary_size()</c>.</summary>
    public int VocabularySize() => Core.VocabularySize;

    /// <summary>Keras's <c>adapt</c> on a flat list, each value its own document.</summary>
    public IntegerLookup Adapt(IEnumerable<long> data) => Adapt(data.Select(v => (IReadOnlyList<long>)[v]));

    /// <summary>Keras's <c>adapt</c> on rows (each row a document): a copy with the learned vocabulary.</summary>
    public IntegerLookup Adapt(IEnumerable<IReadOnlyList<long>> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (vocabulary, idf) = IndexLookupCore<long>.Adapt(data, MaxTokens, Core.TokenStart, MaskToken ?? 0, MaskToken is not null, OovToken,
            OutputMode == "tf_idf", Comparer<long>.Default, EqualityComparer<long>.Default);
        return vocabulary.Length == 0 ? this
            : new IntegerLookup(MaxTokens, NumOovIndices, MaskToken, OovToken, vocabulary, VocabularyDtype, idf, Invert, OutputMode, Sparse, PadToMaxTokens, OovMethod)
            { Name = Name, Trainable = Trainable, Dtype = Dtype, ActivityRegularizer = ActivityRegularizer };
    }

    /// <summary>The layer on integers of the given shape (batch axis first), row-major.</summary>
    public HostOutput Apply(IReadOnlyList<long> values, long[] shape)
    {
        if (Invert) throw new InvalidOperationException($"{ClassName} with invert=True maps indices to values: use Inverse.");
        switch (OutputMode)
        {
            case "int": return new(Core.Indices(values, shape), null);
            case "one_hot": return new(null, Core.OneHot(values, shape));
        }
        var width = shape.Length == 0 ? 1 : (int)shape[^1];
        var rows = Enumerable.Range(0, width == 0 ? 0 : values.Count / width)
            .Select(r => (IReadOnlyList<long>)values.Skip(r * width).Take(width).ToArray()).ToList();
        return new(null, Core.Encode(rows, shape.Length <= 1 ? [] : shape[..^1]));
    }

    /// <summary>The inverse lookup (<see cref="Invert"/>).</summary>
    public HostArray<long> Inverse(HostArray<long> indices)
    {
        if (!Invert) throw new InvalidOperationException($"{ClassName}: Inverse needs invert=True.");
        return new(indices.Data.Select(Core.InverseLookup).ToArray(), indices.Shape);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => LookupArguments.OutputShape(this, input, OutputMode, Core.Depth);

    /// <inheritdoc />
    public bool Equals(IntegerLookup? other) =>
        other is not null && base.Equals(other) && MaxTokens == other.MaxTokens && NumOovIndices == other.NumOovIndices && MaskToken == other.MaskToken
        && OovToken == other.OovToken && Invert == other.Invert && OutputMode == other.OutputMode && PadToMaxTokens == other.PadToMaxTokens
        && Sparse == other.Sparse && VocabularyDtype == other.VocabularyDtype && OovMethod == other.OovMethod
        && LookupArguments.SequenceEqual(Vocabulary, other.Vocabulary) && LookupArguments.SequenceEqual(IdfWeights, other.IdfWeights);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), MaxTokens, NumOovIndices, MaskToken, OutputMode, LookupArguments.Hash(Vocabulary));
}

/// <summary>
/// Turns raw strings into token indices or token encodings (Keras <c>TextVectorization</c>,
/// keras/src/layers/preprocessing/text_vectorization.py): standardize, split, build n-grams, look the tokens up.
/// </summary>
/// <remarks>
/// <para>Standardization is Keras's: <c>lower</c> lowercases ASCII letters (TensorFlow's <c>tf.strings.lower</c>, which
/// Keras calls without an encoding), <c>strip_punctuation</c> removes the ASCII punctuation
/// <c>!"#$%&amp;'()*+,-./:;&lt;=&gt;?@[\]^_`{|}~</c>; <c>whitespace</c> splits on runs of ASCII whitespace,
/// <c>character</c> on Unicode code points; <see cref="Ngrams"/> appends the n-grams of each width, joined by a space.</para>
/// <para>In <c>int</c> mode index 0 is padding (the mask token <c>""</c>) and 1 the OOV token <c>[UNK]</c>; a batch is padded
/// with 0 to its longest sequence, or padded/truncated to <see cref="OutputSequenceLength"/>. <c>multi_hot</c>, <c>count</c>
/// and <c>tf_idf</c> give one float32 vector per string (OOV at index 0, no padding index).
/// <see cref="Adapt(IEnumerable{string})"/> returns a copy with the vocabulary learned as Keras learns it (by frequency, ties by
/// the tokens' order, high to low); the vocabulary is part of the config (Keras writes an adapted one to the archive's
/// assets instead), so a model's JSON carries it.</para>
/// <para>Keras's <c>ragged</c> and <c>sparse</c> are refused with Keras 3's own message for non-TensorFlow backends; callables
/// for <c>standardize</c>/<c>split</c> are not taken (a config could not carry them).</para>
/// </remarks>
public sealed record TextVectorization : Layer
{
    private static readonly string[] Standardizations = ["lower_and_strip_punctuation", "lower", "strip_punctuation"];
    private static readonly string[] Splits = ["whitespace", "character"];
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    /// <summary>Keras's arguments and defaults.</summary>
    public TextVectorization(int? maxTokens = null, string? standardize = "lower_and_strip_punctuation", string? split = "whitespace",
        IntTuple ngrams = default, string outputMode = "int", int? outputSequenceLength = null, bool padToMaxTokens = false,
        string[]? vocabulary = null, double[]? idfWeights = null, bool sparse = false, bool ragged = false, string encoding = "utf-8")
    {
        MaxTokens = maxTokens;
        Standardize = standardize;
        Split = split;
        Ngrams = ngrams;
        OutputMode = outputMode;
        OutputSequenceLength = outputSequenceLength;
        PadToMaxTokens = padToMaxTokens;
        Vocabulary = vocabulary;
        IdfWeights = idfWeights;
        Sparse = sparse;
        Ragged = ragged;
        Encoding = encoding;
        Validate();
        EndConstruction();
    }

    /// <summary>The largest vocabulary, the padding and OOV indices included; null for no cap.</summary>
    public int? MaxTokens { get; init { field = LookupArguments.MaxTokens(value, ArgumentError); Changed(); } }

    /// <summary><c>lower_and_strip_punctuation</c> (default), <c>lower</c>, <c>strip_punctuation</c>, or null for none.</summary>
    public string? Standardize
    {
        get;
        init => field = value is null || Standardizations.Contains(value) ? value
            : throw ArgumentError("standardize", value, $"None or one of {string.Join(", ", Standardizations.Select(s => $"'{s}'"))}");
    }

    /// <summary><c>whitespace</c> (default), <c>character</c>, or null for none (each string one token).</summary>
    public string? Split
    {
        get;
        init => field = value is null || Splits.Contains(value) ? value
            : throw ArgumentError("split", value, $"None or one of {string.Join(", ", Splits.Select(s => $"'{s}'"))}");
    }

    /// <summary>
    /// The n-gram widths: Keras's integer n means 1…n (held here as that tuple, which Keras reads back the same), a tuple
    /// the widths given; none by default (the tokens alone).
    /// </summary>
    public IntTuple Ngrams
    {
        get;
        init => field = value.Count == 0 ? default
            : value.IsInteger ? (value[0] >= 1 ? new IntTuple(Enumerable.Range(1, value[0]).ToArray()) : throw ArgumentError("ngrams", value[0], "None, a positive integer, or a tuple of positive integers"))
            : value.All(v => v >= 1) ? value : throw ArgumentError("ngrams", value, "None, a positive integer, or a tuple of positive integers");
    }

    /// <summary><c>int</c> (default), <c>multi_hot</c>, <c>count</c> or <c>tf_idf</c> (Keras also accepts <c>one_hot</c>).</summary>
    public string OutputMode { get; init { field = LookupArguments.OutputMode(this, value, ArgumentError); Changed(); } }

    /// <summary>int mode: pad or truncate every sequence to this length; null pads a batch to its longest.</summary>
    public int? OutputSequenceLength { get; init { field = value is null or > 0 ? value : throw ArgumentError("output_sequence_length", value, "None or a positive integer"); Changed(); } }

    /// <summary>Non-int modes: make the encoded axis <see cref="MaxTokens"/> long.</summary>
    public bool PadToMaxTokens { get; init { field = value; Changed(); } }

    /// <summary>The vocabulary (without the padding and OOV tokens, or with them first), given or learned; null before either.</summary>
    public IReadOnlyList<string>? Vocabulary
    {
        get;
        init { field = value is null ? null : Array.AsReadOnly(value.Select((s, i) => s ?? throw ArgumentError("vocabulary", $"[{i}]=None", "a list of strings")).ToArray()); Changed(); }
    }

    /// <summary>tf_idf's inverse document frequency per vocabulary entry.</summary>
    public IReadOnlyList<double>? IdfWeights { get; init { field = value is null ? null : Array.AsReadOnly(value.ToArray()); Changed(); } }

    /// <summary>Keras's <c>sparse</c>: only false (Keras 3 takes true with TensorFlow only).</summary>
    public bool Sparse { get; init { field = value; Changed(); } }

    /// <summary>Keras's <c>ragged</c>: only false (Keras 3 takes true with TensorFlow only); a batch is padded instead.</summary>
    public bool Ragged { get; init { field = value; Changed(); } }

    /// <summary>The text encoding: only <c>utf-8</c>.</summary>
    public string Encoding { get; init => field = value is "utf-8" or "UTF-8" ? value : throw ArgumentError("encoding", value, "'utf-8'"); }

    private IndexLookupCore<string>? core;
    private IndexLookupCore<string> Core => core ??= NewCore();

    private void Changed()
    {
        core = null;
        Recheck(Validate);
    }

    private void Validate()
    {
        if (Ragged)
            throw new ArgumentException($"{ClassName}: `ragged=True` can only be used with the TensorFlow backend (Keras 3's rule); batches are padded here instead. Received: ragged=True.", "ragged");
        if (OutputMode != "int" && OutputSequenceLength is not null)
            throw new ArgumentException(
                $"{ClassName}: `output_sequence_length` must not be set if `output_mode` is not 'int'. Received output_sequence_length={OutputSequenceLength}.", "outputSequenceLength");
        LookupArguments.Common(ClassName, MaxTokens, PadToMaxTokens, false, OutputMode, Sparse, IdfWeights);
        core = NewCore();
    }

    private IndexLookupCore<string> NewCore() => new(ClassName, MaxTokens, 1, "", true, "[UNK]",
        Vocabulary, IdfWeights, false, OutputMode, PadToMaxTokens, (s, n) => FarmHash.Bucket(s, n), StringComparer.Ordinal);

    /// <summary>Keras's <c>get_vocabulary</c>: <c>""</c> and <c>[UNK]</c> first in int mode (<c>[UNK]</c> alone otherwise).</summary>
    public IReadOnlyList<string> GetVocabulary(bool includeSpecialTokens = true) => Core.GetVocabulary(includeSpecialTokens);

    /// <summary>Keras's <c>vocabulary_size()</c>: the size of the index space (what an Embedding's <c>input_dim</c> needs).</summary>
    public int VocabularySize() => Core.VocabularySize;

    /// <summary>Keras's <c>_preprocess</c> of one string: standardized, split and n-grammed into its tokens.</summary>
    public IReadOnlyList<string> Tokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Standardize is "lower" or "lower_and_strip_punctuation") text = AsciiLower(text);
        if (Standardize is "strip_punctuation" or "lower_and_strip_punctuation") text = StripPunctuation(text);
        var tokens = Split switch
        {
            "whitespace" => text.Split([' ', '\t', '\n', '\v', '\f', '\r'], StringSplitOptions.RemoveEmptyEntries),
            "character" => text.EnumerateRunes().Select(r => r.ToString()).ToArray(),
            _ => [text],
        };
        if (Ngrams.Count == 0) return tokens;
        var grams = new List<string>();
        foreach (var width in Ngrams)
            for (var i = 0; i + width <= tokens.Length; i++)
                grams.Add(width == 1 ? tokens[i] : string.Join(' ', tokens, i, width));
        return grams;
    }

    private static string AsciiLower(string text)
    {
        if (!text.Any(c => c is >= 'A' and <= 'Z')) return text;
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
            if (chars[i] is >= 'A' and <= 'Z') chars[i] = (char)(chars[i] + 32);
        return new string(chars);
    }

    private static string StripPunctuation(string text)
    {
        if (text.IndexOfAny(Punctuation.ToCharArray()) < 0) return text;
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
            if (Punctuation.IndexOf(c) < 0) sb.Append(c);
        return sb.ToString();
    }

    /// <summary>
    /// Keras's <c>adapt</c> on a list of strings (each a document): a copy with the vocabulary learned from their tokens
    /// (and, for tf_idf, the inverse document frequencies).
    /// </summary>
    public TextVectorization Adapt(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var (vocabulary, idf) = IndexLookupCore<string>.Adapt(texts.Select(Tokens), MaxTokens, Core.TokenStart, "", true, "[UNK]",
            OutputMode == "tf_idf", Utf8Order.Instance, StringComparer.Ordinal);
        return vocabulary.Length == 0 ? this
            : new TextVectorization(MaxTokens, Standardize, Split, Ngrams, OutputMode, OutputSequenceLength, PadToMaxTokens, vocabulary, idf, Sparse, Ragged, Encoding)
            { Name = Name, Trainable = Trainable, Dtype = Dtype, ActivityRegularizer = ActivityRegularizer };
    }

    /// <summary>
    /// The layer on a batch of strings: int mode gives int64 indices of shape (batch, length) — length the
    /// <see cref="OutputSequenceLength"/>, or the batch's longest sequence, shorter ones padded with 0 — and the other modes
    /// float32 vectors of shape (batch, depth).
    /// </summary>
    public HostOutput Apply(IReadOnlyList<string> texts)
    {
        var rows = LookupArguments.Rows(texts, ClassName).Select(Tokens).ToList();
        if (OutputMode != "int") return new(null, Core.Encode(rows, [rows.Count]));
        var length = OutputSequenceLength ?? (rows.Count == 0 ? 0 : rows.Max(r => r.Count));
        var data = new long[checked(rows.Count * length)];
        for (var r = 0; r < rows.Count; r++)
            for (var i = 0; i < Math.Min(length, rows[r].Count); i++)
                data[r * length + i] = Core.Lookup(rows[r][i]);
        return new(new HostArray<long>(data, rows.Count, length), null);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank > 1 || input.Rank == 1 && input[0] != 1)
            throw ShapeError(input, input.Rank - 1,
                $"When using `TextVectorization` to tokenize strings, the input rank must be 1 or the last shape dimension must be 1 (a batch of strings, shape (batch,) or (batch, 1)). Received: inputs.shape={input}.");
        return OutputMode == "int" ? new Shape(OutputSequenceLength) : new Shape(Core.Depth);
    }

    /// <inheritdoc />
    public bool Equals(TextVectorization? other) =>
        other is not null && base.Equals(other) && MaxTokens == other.MaxTokens && Standardize == other.Standardize && Split == other.Split
        && Ngrams.Equals(other.Ngrams) && OutputMode == other.OutputMode && OutputSequenceLength == other.OutputSequenceLength
        && PadToMaxTokens == other.PadToMaxTokens && Sparse == other.Sparse && Ragged == other.Ragged && Encoding == other.Encoding
        && LookupArguments.SequenceEqual(Vocabulary, other.Vocabulary) && LookupArguments.SequenceEqual(IdfWeights, other.IdfWeights);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), MaxTokens, Standardize, Split, OutputMode, OutputSequenceLength, LookupArguments.Hash(Vocabulary));
}
