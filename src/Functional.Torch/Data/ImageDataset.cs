using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Building;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Data;

/// <summary>
/// Keras's <c>image_dataset_from_directory</c>: image files found under a directory, with labels inferred from the class
/// subfolders (or given), served to <c>Fit</c>/<c>Evaluate</c> in batches of float32 images
/// <c>(batch, height, width, channels)</c> with values 0..255. Images are read from disk batch by batch while training runs:
/// the next batches are decoded on worker threads into a bounded queue, so nothing but the file list is held in memory.
/// </summary>
/// <remarks>
/// <para>Files: for inferred labels each class is a subfolder of <see cref="Directory"/> (sorted by name unless
/// <see cref="ClassNames"/> was given; names starting with "." are skipped), searched recursively; files count when their
/// extension (case-insensitive) is one of <see cref="Images.AllowedFormats"/>. The list is sorted by folder then file name,
/// then — with <see cref="Shuffle"/> — shuffled once with <see cref="Seed"/> before the validation split, as Keras does, so the
/// training and validation datasets made with the same seed are disjoint.</para>
/// <para>Labels: <c>"int"</c> gives int64 class indices <c>(batch)</c> (Keras gives int32; torch's losses index with int64),
/// <c>"categorical"</c> float32 one-hot rows <c>(batch, classes)</c>, <c>"binary"</c> float32 <c>(batch, 1)</c>; a null
/// label mode gives batches with no targets.</para>
/// <para>Order: with <see cref="Shuffle"/> every epoch visits the samples in a new order drawn from <see cref="Seed"/> and the
/// epoch number (tf.data's <c>reshuffle_each_iteration</c>), so a seed gives the same sequence of batches on every run. This is
/// a full permutation, not Keras's 8-batch shuffle buffer.</para>
/// <para>Threading: a dataset is immutable and may be shared; each enumeration of <see cref="Batches"/> owns its prefetch
/// workers, which are cancelled and awaited when the enumerator is disposed (as <c>Fit</c> does when it stops early). Workers
/// only decode into managed buffers; tensors are created on the enumerating thread, inside its dispose scope.</para>
/// </remarks>
public sealed class ImageDataset : IBatchSource
{
    private static readonly string[] LabelModes = ["int", "categorical", "binary"];
    private readonly int[]? labels;

    private ImageDataset(string directory, string[] filePaths, int[]? labels, string? labelMode, IReadOnlyList<string>? classNames,
        ColorMode colorMode, int batchSize, (int Height, int Width) imageSize, bool shuffle, int seed, Interpolation interpolation,
        bool cropToAspectRatio, int prefetchBatches, int workers)
    {
        Directory = directory;
        FilePaths = Array.AsReadOnly(filePaths);
        this.labels = labels;
        LabelMode = labelMode;
        ClassNames = classNames;
        ColorMode = colorMode;
        BatchSize = batchSize;
        ImageSize = imageSize;
        Shuffle = shuffle;
        Seed = seed;
        Interpolation = interpolation;
        CropToAspectRatio = cropToAspectRatio;
        PrefetchBatches = prefetchBatches;
        Workers = workers;
    }

    /// <summary>The directory the files were found in.</summary>
    public string Directory { get; }
    /// <summary>The image files of this dataset (after the seeded shuffle and the split), in their base order.</summary>
    public IReadOnlyList<string> FilePaths { get; }
    /// <summary>Each file's class index, or null when the label mode is null.</summary>
    public IReadOnlyList<int>? Labels => labels is null ? null : Array.AsReadOnly(labels);
    /// <summary><c>"int"</c>, <c>"categorical"</c>, <c>"binary"</c>, or null for no labels.</summary>
    public string? LabelMode { get; }
    /// <summary>The class names, in label order: the subfolder names, or the given class names, or (explicit labels) the sorted distinct labels; null without labels.</summary>
    public IReadOnlyList<string>? ClassNames { get; }
    /// <summary>The channels of the images.</summary>
    public ColorMode ColorMode { get; }
    /// <summary>Images per batch (the last batch of an epoch may be smaller).</summary>
    public int BatchSize { get; }
    /// <summary>(height, width) every image is resized to.</summary>
    public (int Height, int Width) ImageSize { get; }
    /// <summary>Whether the file list was shuffled before the split and each epoch is reshuffled.</summary>
    public bool Shuffle { get; }
    /// <summary>The seed of the shuffles (drawn at random when none was given).</summary>
    public int Seed { get; }
    /// <summary>The resampling method.</summary>
    public Interpolation Interpolation { get; }
    /// <summary>Whether images are cropped (centred) to the target aspect ratio before resizing.</summary>
    public bool CropToAspectRatio { get; }
    /// <summary>How many batches are decoded ahead of the one being trained on (the bound of the prefetch queue).</summary>
    public int PrefetchBatches { get; }
    /// <summary>How many threads decode the images of one batch.</summary>
    public int Workers { get; }
    /// <summary>The number of images.</summary>
    public int Count => FilePaths.Count;

    /// <inheritdoc />
    public int StepsPerEpoch => (Count + BatchSize - 1) / BatchSize;

    /// <summary>The indices into <see cref="FilePaths"/> in the order epoch <paramref name="epoch"/> visits them.</summary>
    public int[] EpochOrder(int epoch)
    {
        if (epoch < 0) throw new ArgumentException($"Expected argument 'epoch' to be >= 0. Received: epoch={epoch}.", nameof(epoch));
        var order = Enumerable.Range(0, Count).ToArray();
        if (Shuffle) Permute(order, new Random(MixSeed(Seed, epoch + 1)));
        return order;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The epoch's order is fixed when this is called; decoding starts when the enumeration does. Dispose the enumerator (a
    /// <c>foreach</c> does) to stop the workers.
    /// </remarks>
    public IEnumerable<Batch> Batches(int epoch)
    {
        var order = EpochOrder(epoch);
        return new Epoch(this, order);
    }

    private sealed class Epoch(ImageDataset data, int[] order) : IEnumerable<Batch>
    {
        public IEnumerator<Batch> GetEnumerator() => new Prefetcher(data, order);
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Decoded pixels and labels of one batch, in managed memory.</summary>
    private sealed record Decoded(float[] Pixels, int[]? Labels, int Size);

    internal sealed class Prefetcher : IEnumerator<Batch>
    {
        private readonly ImageDataset data;
        private readonly int[] order;
        private readonly Queue<Task<Decoded>> pending = new();
        private readonly CancellationTokenSource cancel = new();
        private int scheduled;
        private bool disposed;

        public Prefetcher(ImageDataset data, int[] order)
        {
            this.data = data;
            this.order = order;
            Refill();
        }

        public Batch Current { get; private set; } = null!;

        /// <summary>Batches decoded and waiting (tests use it to see the workers run ahead of the consumer).</summary>
        internal int ReadyAhead => pending.Count(t => t.IsCompletedSuccessfully);

        /// <summary>Batches being decoded or waiting.</summary>
        internal int InFlight => pending.Count;
        object System.Collections.IEnumerator.Current => Current;

        private void Refill()
        {
            while (pending.Count < data.PrefetchBatches && scheduled < data.StepsPerEpoch)
            {
                var step = scheduled++;
                var token = cancel.Token;
                pending.Enqueue(Task.Run(() => data.DecodeBatch(order, step, token), token));
            }
        }

        public bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (pending.Count == 0) return false;
            Decoded decoded;
            try
            {
                decoded = pending.Dequeue().GetAwaiter().GetResult();
            }
            finally
            {
                // Also after a bad file: the batches behind it are still scheduled, so an enumeration that goes on past the
                // error sees the rest of the epoch instead of ending early without a word.
                Refill();
            }
            Current = data.ToBatch(decoded);
            return true;
        }

        public void Reset() => throw new NotSupportedException("An epoch's batches cannot be replayed; call Batches(epoch) again.");

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            cancel.Cancel();
            foreach (var task in pending)
            {
                try { task.Wait(); }
                catch (AggregateException) { }   // cancelled, or a decode error nobody will consume now
            }
            pending.Clear();
            cancel.Dispose();
        }
    }

    private Decoded DecodeBatch(int[] order, int step, CancellationToken token)
    {
        var start = step * BatchSize;
        var size = Math.Min(BatchSize, Count - start);
        var (h, w) = ImageSize;
        var per = h * w * Images.Channels(ColorMode);
        var pixels = new float[size * per];   // fits: checked against Array.MaxLength when the dataset was made
        try
        {
            Parallel.For(0, size, new ParallelOptions { CancellationToken = token, MaxDegreeOfParallelism = Workers }, i =>
            {
                var path = FilePaths[order[start + i]];
                var decoded = Images.DecodeFile(path);
                Images.Render(decoded, ColorMode, ImageSize, Interpolation, CropToAspectRatio, pixels.AsSpan(i * per, per));
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Report the first bad file as itself (an InvalidDataException naming it), not wrapped by Parallel.For.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        var batchLabels = labels is null ? null : Enumerable.Range(0, size).Select(i => labels[order[start + i]]).ToArray();
        return new Decoded(pixels, batchLabels, size);
    }

    private Batch ToBatch(Decoded d)
    {
        Native.LibTorch.EnsureLoaded();
        var x = torch.tensor(d.Pixels, [d.Size, ImageSize.Height, ImageSize.Width, Images.Channels(ColorMode)]);
        if (d.Labels is null) return new Batch([x], []);
        Tensor y = LabelMode switch
        {
            "categorical" => OneHot(d.Labels, ClassNames!.Count),
            "binary" => torch.tensor(d.Labels.Select(l => (float)l).ToArray(), [d.Size, 1]),
            _ => torch.tensor(d.Labels.Select(l => (long)l).ToArray(), [d.Size]),
        };
        return new Batch([x], [y]);
    }

    private static Tensor OneHot(int[] labels, int classes)
    {
        var values = new float[labels.Length * classes];
        for (var i = 0; i < labels.Length; i++) values[i * classes + labels[i]] = 1;
        return torch.tensor(values, [labels.Length, classes]);
    }

    // ---- construction: Keras's argument checks, directory index and split ----

    internal static ImageDataset FromDirectory(string directory, IReadOnlyList<int>? labels, string? labelMode, IReadOnlyList<string>? classNames,
        ColorMode colorMode, int batchSize, (int Height, int Width)? imageSize, bool shuffle, int? seed, double? validationSplit, string? subset,
        Interpolation interpolation, bool followLinks, bool cropToAspectRatio, int? prefetchBatches, int? workers)
    {
        var normalizedSubset = subset?.Trim().ToLowerInvariant();
        if (normalizedSubset == "both")
            throw new ArgumentException(
                "subset=\"both\" makes two datasets: call Images.ImageDatasetsFromDirectory, which returns (Training, Validation).", nameof(subset));
        var index = Index(directory, labels, labelMode, classNames, colorMode, batchSize, imageSize, shuffle, seed, validationSplit,
            normalizedSubset, interpolation, followLinks, prefetchBatches, workers);
        var (paths, ls) = Split(index.Paths, index.Labels, validationSplit, normalizedSubset);
        if (paths.Length == 0) throw NoImages(normalizedSubset is null ? "" : normalizedSubset + " ", index.Directory, validationSplit);
        return index.Make(paths, ls, shuffle, cropToAspectRatio);
    }

    internal static (ImageDataset Training, ImageDataset Validation) BothFromDirectory(string directory, IReadOnlyList<int>? labels, string? labelMode,
        IReadOnlyList<string>? classNames, ColorMode colorMode, int batchSize, (int Height, int Width)? imageSize, bool shuffle, int seed,
        double validationSplit, Interpolation interpolation, bool followLinks, bool cropToAspectRatio, int? prefetchBatches, int? workers)
    {
        var index = Index(directory, labels, labelMode, classNames, colorMode, batchSize, imageSize, shuffle, seed, validationSplit, "both",
            interpolation, followLinks, prefetchBatches, workers);
        var (trainPaths, trainLabels) = Split(index.Paths, index.Labels, validationSplit, "training");
        var (valPaths, valLabels) = Split(index.Paths, index.Labels, validationSplit, "validation");
        if (trainPaths.Length == 0) throw NoImages("training ", index.Directory, validationSplit);
        if (valPaths.Length == 0) throw NoImages("validation ", index.Directory, validationSplit);
        // As Keras: the validation half of "both" is not reshuffled each epoch.
        return (index.Make(trainPaths, trainLabels, shuffle, cropToAspectRatio), index.Make(valPaths, valLabels, false, cropToAspectRatio));
    }

    private sealed record IndexResult(string Directory, string[] Paths, int[]? Labels, string? LabelMode, IReadOnlyList<string>? ClassNames,
        ColorMode ColorMode, int BatchSize, (int Height, int Width) ImageSize, int Seed, Interpolation Interpolation, int Prefetch, int Workers)
    {
        public ImageDataset Make(string[] paths, int[]? labels, bool shuffle, bool crop) =>
            new(Directory, paths, labels, LabelMode, ClassNames, ColorMode, BatchSize, ImageSize, shuffle, Seed, Interpolation, crop, Prefetch, Workers);
    }

    private static IndexResult Index(string directory, IReadOnlyList<int>? labels, string? labelMode, IReadOnlyList<string>? classNames,
        ColorMode colorMode, int batchSize, (int Height, int Width)? imageSize, bool shuffle, int? seed, double? validationSplit, string? subset,
        Interpolation interpolation, bool followLinks, int? prefetchBatches, int? workers)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var mode = labelMode?.Trim().ToLowerInvariant();
        if (mode is not null && !LabelModes.Contains(mode))
            throw new ArgumentException(
                $"`label_mode` argument must be one of \"int\", \"categorical\", \"binary\", or None. Received: label_mode={labelMode}", nameof(labelMode));
        if (labels is not null && classNames is not null)
            throw new ArgumentException(
                $"You can only pass `class_names` if `labels=\"inferred\"`. Received: labels=[{string.Join(", ", labels)}], and class_names=[{string.Join(", ", classNames)}]",
                nameof(classNames));
        if (mode is null && classNames is not null)
            throw new ArgumentException("When `labels=None` (no labels), argument `class_names` cannot be specified.", nameof(classNames));
        var size = imageSize ?? (256, 256);
        Images.CheckOptions(colorMode, size, interpolation, "imageSize");
        if (batchSize <= 0)
            throw new ArgumentException($"Expected argument 'batchSize' to be a positive integer. Received: batchSize={batchSize}.", nameof(batchSize));
        if (prefetchBatches is <= 0)
            throw new ArgumentException($"Expected argument 'prefetchBatches' to be a positive integer. Received: prefetchBatches={prefetchBatches}.", nameof(prefetchBatches));
        if (workers is <= 0)
            throw new ArgumentException($"Expected argument 'workers' to be a positive integer. Received: workers={workers}.", nameof(workers));
        if ((long)batchSize * size.Height * size.Width * Images.Channels(colorMode) > Array.MaxLength)
            throw new ArgumentException(
                $"A batch of {batchSize} images of {size.Height}x{size.Width}x{Images.Channels(colorMode)} floats does not fit one buffer " +
                $"({Array.MaxLength} values at most); use a smaller batchSize or imageSize.", nameof(batchSize));
        CheckValidationSplit(validationSplit, subset, shuffle, seed);
        if (File.Exists(directory))
            throw new DirectoryNotFoundException($"Could not find directory {directory}: it is a file, not a directory.");
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Could not find directory {directory}");

        var full = Path.GetFullPath(directory);
        var files = new List<string>();
        var found = new List<int>();
        List<string>? names = null;
        if (labels is null && mode is not null)
        {
            var subdirs = new DirectoryInfo(full).EnumerateDirectories()
                .Where(d => !d.Name.StartsWith('.'))
                .Select(d => d.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();
            if (classNames is not null)
            {
                var missing = classNames.Where(c => !subdirs.Contains(c, StringComparer.Ordinal)).ToList();
                if (missing.Count > 0 || classNames.Distinct(StringComparer.Ordinal).Count() != classNames.Count)
                    throw new ArgumentException(
                        "The `class_names` passed did not match the names of the subdirectories of the target directory. " +
                        $"Expected: [{string.Join(", ", subdirs.Select(s => $"'{s}'"))}] (or a subset of it), but received: class_names=[{string.Join(", ", classNames.Select(s => $"'{s}'"))}]",
                        nameof(classNames));
                subdirs = [.. classNames];
            }
            names = subdirs;
            for (var c = 0; c < subdirs.Count; c++)
            {
                var before = files.Count;
                files.AddRange(ValidFiles(Path.Combine(full, subdirs[c]), followLinks));
                found.AddRange(Enumerable.Repeat(c, files.Count - before));
            }
        }
        else
        {
            files.AddRange(ValidFiles(full, followLinks));
        }
        if (files.Count == 0) throw NoImages("", directory, null);

        int[]? fileLabels = null;
        if (mode is not null)
        {
            if (labels is not null)
            {
                if (labels.Count != files.Count)
                    throw new ArgumentException(
                        $"Expected the lengths of `labels` to match the number of files in the target directory. len(labels) is {labels.Count} while we found {files.Count} files in directory {directory}.",
                        nameof(labels));
                var distinct = labels.Distinct().Order().ToList();
                if (distinct[0] < 0)
                    throw new ArgumentException($"Expected non-negative integer labels. Received a label {distinct[0]}.", nameof(labels));
                names = distinct.Select(l => l.ToString(CultureInfo.InvariantCulture)).ToList();
                if (mode != "int" && distinct[^1] >= distinct.Count)
                    throw new ArgumentException(
                        $"With label_mode=\"{mode}\" the labels must be 0..{distinct.Count - 1} (one per class found, {distinct.Count} classes). Received a label {distinct[^1]}.",
                        nameof(labels));
                fileLabels = [.. labels];
            }
            else fileLabels = [.. found];
            if (mode == "binary" && names!.Count != 2)
                throw new ArgumentException(
                    $"When passing `label_mode=\"binary\"`, there must be exactly 2 class_names. Received: class_names=[{string.Join(", ", names.Select(s => $"'{s}'"))}]",
                    nameof(labelMode));
        }

        var actualSeed = seed ?? Random.Shared.Next(1_000_000);
        var paths = files.ToArray();
        if (shuffle)
        {
            var permutation = Enumerable.Range(0, paths.Length).ToArray();
            Permute(permutation, new Random(MixSeed(actualSeed, 0)));
            paths = permutation.Select(i => files[i]).ToArray();
            if (fileLabels is not null) fileLabels = permutation.Select(i => fileLabels[i]).ToArray();
        }
        var threads = workers ?? Math.Max(1, Environment.ProcessorCount / 2);
        return new IndexResult(directory, paths, fileLabels, mode, names?.AsReadOnly(), colorMode, batchSize, size, actualSeed, interpolation,
            prefetchBatches ?? 2, threads);
    }

    /// <summary>Keras's <c>check_validation_split_arg</c>.</summary>
    private static void CheckValidationSplit(double? validationSplit, string? subset, bool shuffle, int? seed)
    {
        var split = validationSplit is { } v && v != 0 ? v : (double?)null;
        if (split is { } s && !(s > 0 && s < 1))
            throw new ArgumentException($"`validation_split` must be between 0 and 1, received: {s.ToString(CultureInfo.InvariantCulture)}", nameof(validationSplit));
        if ((split is not null || subset is not null) && !(split is not null && subset is not null))
            throw new ArgumentException("If `subset` is set, `validation_split` must be set, and inversely.", subset is null ? nameof(validationSplit) : nameof(subset));
        if (subset is not (null or "training" or "validation" or "both"))
            throw new ArgumentException($"`subset` must be either \"training\", \"validation\" or \"both\", received: {subset}", nameof(subset));
        if (split is not null && shuffle && seed is null)
            throw new ArgumentException(
                "If using `validation_split` and shuffling the data, you must provide a `seed` argument, to make sure that there is no " +
                "overlap between the training and validation subset.", nameof(seed));
    }

    /// <summary>Keras's <c>get_training_or_validation_split</c>: the last <c>floor(split·n)</c> files are the validation subset.</summary>
    private static (string[] Paths, int[]? Labels) Split(string[] paths, int[]? labels, double? validationSplit, string? subset)
    {
        if (validationSplit is not { } split || split == 0 || subset is null) return (paths, labels);
        var numVal = (int)(split * paths.Length);
        var (start, length) = subset == "training" ? (0, paths.Length - numVal) : (paths.Length - numVal, numVal);
        // Keras slices samples[:-0] for numVal == 0, which is empty: no training images then, as here.
        if (numVal == 0) (start, length) = (0, 0);
        return (paths[start..(start + length)], labels?[start..(start + length)]);
    }

    private static ArgumentException NoImages(string which, string directory, double? validationSplit) =>
        new($"No {which}images found in directory {directory}. Allowed formats: ({string.Join(", ", Images.AllowedFormats.Select(f => $"'{f}'"))})" +
            (validationSplit is { } s && s > 0 ? $" (validationSplit={s.ToString(CultureInfo.InvariantCulture)} may leave a subset empty)." : ""),
            "directory");

    /// <summary><c>os.walk</c> order: folders sorted by path, files by name; symbolic links to folders are followed only with <paramref name="followLinks"/>.</summary>
    private static IEnumerable<string> ValidFiles(string root, bool followLinks)
    {
        var folders = new List<string>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            // Every folder by its real path (all links resolved, not only the last one): a folder reached through a link
            // and again through its own path, or a cycle, is walked once.
            if (!visited.Add(RealPath(dir))) continue;
            folders.Add(dir);
            foreach (var sub in new DirectoryInfo(dir).EnumerateDirectories())
                if (followLinks || sub.LinkTarget is null) stack.Push(sub.FullName);
        }
        foreach (var dir in folders.OrderBy(d => d, StringComparer.Ordinal))
            foreach (var file in new DirectoryInfo(dir).EnumerateFiles().Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal))
                if (Images.AllowedFormats.Contains(Path.GetExtension(file).ToLowerInvariant()))
                    yield return Path.Combine(dir, file);
    }

    /// <summary>
    /// <c>realpath</c>: <paramref name="path"/> with every symbolic link among its components resolved, so that two paths to
    /// one folder compare equal. A chain of more than 40 links (a loop) is an <see cref="IOException"/>, as ELOOP is.
    /// </summary>
    internal static string RealPath(string path, int depth = 0)
    {
        if (depth > 40) throw new IOException($"Too many levels of symbolic links resolving '{path}'.");
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "";
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            var target = new DirectoryInfo(next).LinkTarget;
            current = target is null ? next : RealPath(Path.GetFullPath(target, current), depth + 1);
        }
        return current;
    }

    private static void Permute(int[] values, Random random)
    {
        for (var i = values.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>A stable 32-bit seed from (seed, stream) — SplitMix64's finaliser; <see cref="HashCode"/> differs between processes.</summary>
    private static int MixSeed(int seed, int stream)
    {
        var z = unchecked(((ulong)(uint)seed << 32 | (uint)stream) + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133CB111UL);
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }
}
