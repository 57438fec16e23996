using Functional.Shapes;
using Functional.Models;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Saving;

/// <summary>
/// Models and weights written by Keras 2 and tf.keras in the legacy HDF5 format (<c>model.save("m.h5")</c>,
/// <c>model.save_weights("w.h5")</c>), read as Keras's <c>legacy_h5_format</c> reads them: the architecture from the root
/// attribute <c>model_config</c>, the weights from the group <c>model_weights</c> (or the root of a weights-only file),
/// one group per layer listed in the attribute <c>layer_names</c>, its arrays named by the attribute
/// <c>weight_names</c> (<c>dense/kernel:0</c>) and read in that order. Files are recognised by their content (the HDF5
/// signature), not their extension: tf.keras also wrote HDF5 files named <c>.keras</c>.
/// </summary>
/// <remarks>
/// Nothing in a file runs: the architecture is a JSON config read by <see cref="ModelConfig"/> (a <c>Lambda</c> layer
/// is refused there). Every array's shape is checked against the weight it is for before its data is read, so a file
/// cannot make the reader allocate more than the model's own weights; a malformed or truncated file is an
/// <see cref="InvalidDataException"/> naming the file and the object (see FileGuards.cs; Keras 1 files and split attributes:
/// KerasLegacy.cs). Keras 3 <c>.keras</c> archives are read too (config.json, and model.weights.h5 in saving_lib's layout,
/// see <see cref="KerasLayout"/>), and written (<c>ModelFile.Save</c> in Functional.Torch.Training).
/// </remarks>
public static partial class KerasH5
{
    private static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>Whether the file starts as HDF5 does (at offset 0 or a user block of 512, 1024, … bytes).</summary>
    public static bool IsHdf5(string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[8];
        for (long offset = 0; offset + 8 <= stream.Length; offset = offset == 0 ? 512 : offset * 2)
        {
            stream.Position = offset;
            stream.ReadExactly(buffer);
            if (buffer.AsSpan().SequenceEqual(Signature)) return true;
            if (offset >= 1 << 20) break;
        }
        return false;
    }

    /// <summary>
    /// Keras's <c>keras.models.load_model</c> for a legacy HDF5 file: the model declared by its config, built on
    /// <paramref name="device"/>, with the file's weights.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a Keras HDF5 model file, or corrupt, or its weights do not fit its config.</exception>
    public static BuiltNetwork LoadModel(string path, Device? device = null)
    {
        var declaration = LoadDeclaration(path);
        var network = BuiltNetwork.Build(declaration, device);
        try
        {
            network.LoadKerasWeights(path);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The model a legacy HDF5 file declares (its <c>model_config</c>), without weights or libtorch.</summary>
    /// <exception cref="InvalidDataException">Not a Keras HDF5 model file, or its config is not readable.</exception>
    public static IModel LoadDeclaration(string path) => Guard(path, () => DeclarationOf(path));

    private static IModel DeclarationOf(string path)
    {
        if (IsZip(path)) return ArchiveDeclaration(path);
        using var file = Open(path);
        var config = StringAttribute(file, "model_config", path)
            ?? throw new InvalidDataException(file.AttributeExists("layer_names")
                ? $"{path}: the file holds no model config (attribute 'model_config'): it is a weights-only file; declare the model and call LoadKerasWeights."
                : $"{path}: an HDF5 file, but not a Keras model (no attribute 'model_config' or 'layer_names').");
        var version = StringAttribute(file, "keras_version", path);
        Reading("model_config");
        try
        {
            return Declare(Upgrade(config, version, path), version, path);
        }
        catch (InvalidDataException e) when (IsUnbuilt(e))
        {
            throw Unbuilt(path, version, e);
        }
    }

    // A config document read by the config reader; a config it refuses is an InvalidDataException naming the file and
    // the Keras version that wrote it.
    private static IModel Declare(string config, string? version, string path)
    {
        try
        {
            return ModelConfig.FromJson(config);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: the model config (written by Keras {version ?? "of unknown version"}) cannot be read: {e.Message}", e);
        }
    }

    /// <summary>
    /// Keras's <c>model.load_weights(path)</c> for a legacy HDF5 file, full model or weights only. As Keras: by default
    /// the layers that have weights are matched in order; with <paramref name="byName"/> by name, skipping layers the
    /// model lacks; with <paramref name="skipMismatch"/> (only with <paramref name="byName"/>) a layer whose weights
    /// differ in number or shape is left as it is instead of failing. Everything is checked before anything is written.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not HDF5, is corrupt, or its weights do not fit the model (named).</exception>
    public static void LoadKerasWeights(this BuiltNetwork network, string path, bool byName = false, bool skipMismatch = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        WeightLoading.CheckSkipMismatch(byName, skipMismatch);
        Guard(path, () => { LoadWeightsFrom(network, path, byName, skipMismatch); return 0; });
    }

    private static void LoadWeightsFrom(BuiltNetwork network, string path, bool byName, bool skipMismatch)
    {
        if (IsShardIndex(path))
        {
            if (byName) throw new ArgumentException($"{path}: a Keras 3 weights file addresses layers by position and class, not by name; load it with byName=false.", nameof(byName));
            using var shards = KerasWeightsSource.OpenSharded(path);
            LoadKeras3(network, shards, path);
            return;
        }
        using var archive = IsZip(path) ? OpenArchiveWeights(path) : null;
        using var file = archive is null ? Open(path) : OpenStream(archive, path);
        var group = file.LinkExists("model_weights") ? file.Group("model_weights") : (IH5Group)file;
        if (!group.AttributeExists("layer_names") && file.LinkExists("layers"))
        {
            if (byName) throw new ArgumentException($"{path}: a Keras 3 weights file addresses layers by position and class, not by name; load it with byName=false.", nameof(byName));
            LoadKeras3(network, new KerasWeightsSource(file, path), path);
            return;
        }
        var fileLayers = StringsAttribute(group, "layer_names", path)
            ?? throw new InvalidDataException($"{path}: no 'layer_names' attribute: not a Keras HDF5 weights file.");
        var origin = Origin(file, group, path);

        // The model's weights and buffers by layer, in Keras's layout: "layer/kernel", "layer/moving_mean", ….
        var state = WeightLoading.State(network).ToList();
        try
        {
            var modelLayers = state.GroupBy(s => LayerOf(s.Name)).Select(g => (Layer: g.Key, Weights: g.ToList())).ToList();
            var withWeights = new List<(string Name, IH5Group Group, string[] WeightNames)>();
            foreach (var name in fileLayers)
            {
                if (!group.LinkExists(name)) throw new InvalidDataException($"{path}: layer '{name}' is listed but its group is missing.");
                var g = group.Group(name);
                var weightNames = StringsAttribute(g, "weight_names", path) ?? [];
                if (weightNames.Length > 0) withWeights.Add((name, g, weightNames));
            }

            var pairs = new List<(string FileLayer, IH5Group Group, string[] WeightNames, string ModelLayer, List<(string Name, Tensor Tensor, bool Dispose)> Weights)>();
            if (byName)
            {
                foreach (var (name, g, weightNames) in withWeights)
                {
                    var model = modelLayers.FirstOrDefault(m => m.Layer == name);
                    if (model.Weights is null) continue;   // Keras: layers the model lacks are skipped
                    pairs.Add((name, g, weightNames, name, model.Weights));
                }
            }
            else
            {
                if (withWeights.Count != modelLayers.Count)
                    throw new InvalidDataException(
                        $"{path}: you are trying to load a weight file containing {withWeights.Count} layers with weights into model " +
                        $"'{network.Declaration.Name}', which has {modelLayers.Count} ({string.Join(", ", modelLayers.Select(m => m.Layer))}).");
                for (var i = 0; i < withWeights.Count; i++)
                    pairs.Add((withWeights[i].Name, withWeights[i].Group, withWeights[i].WeightNames, modelLayers[i].Layer, modelLayers[i].Weights));
            }

            // Plan: every array named, shaped and read before the model changes.
            var stored = new List<StoredTensor>();
            try
            {
                foreach (var (fileLayer, g, weightNames, modelLayer, weights) in pairs)
                {
                    if (Keras1Recurrent(network, modelLayer, g, weightNames, weights, path, fileLayer) is { } joined)
                    {
                        stored.AddRange(joined);
                        continue;
                    }
                    var matched = Match(weightNames, weights);
                    string? mismatch = weightNames.Length != weights.Count
                        ? $"layer '{modelLayer}' expects {weights.Count} weight(s) ({string.Join(", ", weights.Select(w => w.Name))}), but the file's layer '{fileLayer}' holds {weightNames.Length} ({string.Join(", ", weightNames)})"
                        : null;
                    var values = new List<StoredTensor>();
                    if (mismatch is null)
                    {
                        foreach (var (weightName, target) in matched)
                        {
                            var (value, why) = ReadKernelAware(network, modelLayer, origin, target, Dataset(g, weightName, path, fileLayer), path, $"{fileLayer}/{weightName}");
                            if (value is null) { mismatch = why; break; }
                            values.Add(value);
                        }
                    }
                    if (mismatch is not null)
                    {
                        foreach (var v in values) v.Value.Dispose();
                        if (skipMismatch) continue;   // Keras warns and leaves the layer as it is
                        throw new InvalidDataException($"{path}: {mismatch}.");
                    }
                    stored.AddRange(values);
                }
                // By name or skipping mismatches, weights the file does not cover keep their values.
                Commit(network, stored, path, requireAll: !byName);
            }
            finally
            {
                foreach (var s in stored) s.Value.Dispose();
            }
        }
        catch (Exception e) when (IsForeign(e))
        {
            throw Unreadable(path, e);
        }
        finally
        {
            WeightLoading.Release(state);
        }
    }

    // Everything checked (names, shapes, kinds of dtype), then written under the write lease: no call sees half the weights.
    private static void Commit(BuiltNetwork network, IReadOnlyList<StoredTensor> stored, string path, bool requireAll)
    {
        var plan = WeightLoading.Plan(network, stored, path, requireAll);
        using var writing = network.WriteLease();
        WeightLoading.Apply(plan);
    }

    // An exception from the HDF5 reader or the data (not one of ours, nor an I/O or argument error) becomes an
    // InvalidDataException naming the file.
    private static bool IsForeign(Exception e) => e is not (InvalidDataException or ArgumentException or ObjectDisposedException or IOException);

    private static InvalidDataException Unreadable(string path, Exception e) =>
        new($"{path}: the HDF5 file cannot be read ({e.GetType().Name}: {e.Message}).", e);

    // A file's weight names ("conv2d_1/kernel:0") against the model layer's ("conv2d_1/kernel"): by their last name when
    // every one matches, else in order (Keras's legacy loader goes by order within a layer).
    private static List<(string WeightName, (string Name, Tensor Tensor, bool Dispose) Target)> Match(
        string[] weightNames, List<(string Name, Tensor Tensor, bool Dispose)> weights)
    {
        static string Short(string n)
        {
            var s = n.LastIndexOf('/') is var i and >= 0 ? n[(i + 1)..] : n;
            return s.EndsWith(":0", StringComparison.Ordinal) ? s[..^2] : s;
        }
        // Unique last names only: a wrapper's two inner layers (Bidirectional's forward and backward kernels) share them.
        if (weights.Select(w => Short(w.Name)).Distinct().Count() == weights.Count)
        {
            var byShort = weights.ToDictionary(w => Short(w.Name), StringComparer.Ordinal);
            if (weightNames.Length == weights.Count && weightNames.All(n => byShort.ContainsKey(Short(n))) &&
                weightNames.Select(Short).Distinct().Count() == weightNames.Length)
                return weightNames.Select(n => (n, byShort[Short(n)])).ToList();
        }
        return weightNames.Zip(weights).Select(p => (p.First, p.Second)).ToList();
    }

    private static IH5Dataset Dataset(IH5Group group, string weightName, string path, string layer)
    {
        // Names with '/' nest groups: "dense/kernel:0" is the dataset kernel:0 in the subgroup dense.
        Reading($"{layer}/{weightName}");
        IH5Group g = group;
        var parts = weightName.Split('/');
        foreach (var part in parts[..^1])
        {
            if (!g.LinkExists(part)) throw new InvalidDataException($"{path}: layer '{layer}' lists weight '{weightName}', which the file does not hold.");
            g = g.Group(part);
        }
        if (!g.LinkExists(parts[^1])) throw new InvalidDataException($"{path}: layer '{layer}' lists weight '{weightName}', which the file does not hold.");
        return g.Dataset(parts[^1]);
    }

    // The dataset for a model weight, read only when its shape is the weight's (so a file cannot make us allocate more than
    // the model's own weights); otherwise the mismatch, described.
    private static (StoredTensor? Value, string? Mismatch) ReadFor((string Name, Tensor Tensor, bool Dispose) target, IH5Dataset dataset, string path, string name)
    {
        var dims = dataset.Space.Dimensions.Select(d => (long)d).ToArray();
        if (!dims.SequenceEqual(target.Tensor.shape))
            return (null, $"weight '{target.Name}' has shape {Shape(target.Tensor.shape)} in the model, but '{name}' in the file is {Shape(dims)}");
        CheckDatasetSize(dataset, dims, path, name, fileLength);
        return (new StoredTensor(target.Name, target.Tensor.is_floating_point() ? "F32" : "I64", dims, Read(dataset, dims, path, name)), null);
    }

    // The dataset as a CPU tensor; its size was checked against the model's weight first.
    private static Tensor Read(IH5Dataset dataset, long[] dims, string path, string name)
    {
        Reading(name);
        CheckDatasetSize(dataset, dims, path, name, fileLength);
        var type = dataset.Type;
        if (type.Class != H5DataTypeClass.FloatingPoint && type.Class != H5DataTypeClass.FixedPoint)
            throw new InvalidDataException($"{path}: weight '{name}' is stored as {type.Class}, not as numbers.");
        Tensor value = (type.Class, type.Size) switch
        {
            (H5DataTypeClass.FloatingPoint, 4) => torch.tensor(dataset.Read<float[]>(), dims),
            (H5DataTypeClass.FloatingPoint, 8) => torch.tensor(dataset.Read<double[]>(), dims),
            (H5DataTypeClass.FloatingPoint, 2) => torch.tensor(dataset.Read<Half[]>().Select(h => (float)h).ToArray(), dims),
            (H5DataTypeClass.FixedPoint, 8) => torch.tensor(dataset.Read<long[]>(), dims),
            (H5DataTypeClass.FixedPoint, 4) => torch.tensor(dataset.Read<int[]>(), dims),
            _ => throw new InvalidDataException($"{path}: weight '{name}' is stored as a {type.Size}-byte {type.Class}, which Keras does not write."),
        };
        if (value.numel() != dims.Aggregate(1L, (a, b) => a * b))
            throw new InvalidDataException($"{path}: weight '{name}' holds {value.numel()} values for shape {Shape(dims)}.");
        return value;
    }

    // ---- Keras 3: `.keras` archives and `.weights.h5` files (saving_lib's layout) -----------------------------------

    /// <summary>The most bytes of <c>model.weights.h5</c> read from an archive into memory (a zip entry declares its size;
    /// a larger one is refused before reading).</summary>
    private const long MaxArchiveWeightsBytes = 2L * 1024 * 1024 * 1024 - 1;

    private static System.IO.Compression.ZipArchive OpenZip(string path)
    {
        Reading("the zip directory");
        System.IO.Compression.ZipArchive zip;
        try
        {
            zip = System.IO.Compression.ZipFile.OpenRead(path);
        }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: starts as a zip archive (a Keras 3 .keras file) but cannot be read as one ({e.Message})", e);
        }
        try
        {
            CheckArchive(zip, path);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
        return zip;
    }

    internal static bool IsZip(string path)
    {
        if (!File.Exists(path)) return false;
        using var s = File.OpenRead(path);
        var head = new byte[4];
        return s.Read(head) == 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
    }

    // model.weights.h5 of a .keras archive, in memory. Only that entry is read, never extracted to disk, so entry paths
    // (.., absolute) cannot escape anywhere; its declared size is checked first and the copy stops at it (a zip bomb or an
    // entry that lies about its size is refused, not followed).
    private static MemoryStream OpenArchiveWeights(string path)
    {
        try
        {
            using var zip = OpenZip(path);
            if (zip.GetEntry("model.weights.h5") is null && zip.GetEntry("model.weights.npz") is not null)
                throw new InvalidDataException(
                    $"{path}: the archive keeps its weights as model.weights.npz, which saving_lib's NpzIOStore writes as pickled Python dicts; " +
                    "loading never runs code from a file, so it is not read (save the model with Keras's default weights_format='h5').");
            return ReadEntry(zip, "model.weights.h5", MaxArchiveWeightsBytes, path);
        }
        catch (Exception e) when (e is not InvalidDataException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: the zip archive cannot be read ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    /// <summary>The most bytes of an archive's config.json read (Keras writes a few kilobytes per layer).</summary>
    private const long MaxArchiveConfigBytes = 64L * 1024 * 1024;

    // A Keras 3 archive's config.json (and metadata.json's keras_version, for messages), read by the config reader.
    private static IModel ArchiveDeclaration(string path)
    {
        string config;
        string? version = null;
        try
        {
            using var zip = OpenZip(path);
            string Text(string name) => System.Text.Encoding.UTF8.GetString(ReadEntry(zip, name, MaxArchiveConfigBytes, path).ToArray());
            config = Text("config.json");
            if (zip.GetEntry("metadata.json") is not null)
                version = System.Text.Json.Nodes.JsonNode.Parse(Text("metadata.json"))?["keras_version"]?.ToString();
        }
        catch (Exception e) when (e is not InvalidDataException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: the zip archive cannot be read ({e.GetType().Name}: {e.Message}).", e);
        }
        Reading("config.json");
        return Declare(config, version, path);
    }

    // One entry of an archive into memory: its declared size checked against the limit first, the copy stopped at the
    // declared size (a zip bomb or an entry that lies about its size is refused, not followed).
    private static MemoryStream ReadEntry(System.IO.Compression.ZipArchive zip, string name, long maxBytes, string path)
    {
        Reading(name);
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: the archive has no {name}: not a Keras 3 .keras file.");
        if (entry.Length > maxBytes)
            throw new InvalidDataException($"{path}: {name} declares {entry.Length:N0} bytes, more than this reader takes into memory ({maxBytes:N0}).");
        var memory = new MemoryStream((int)Math.Min(entry.Length, 1 << 20));   // grows with what arrives, never to more than declared
        using (var stream = entry.Open())
        {
            var buffer = new byte[81920];
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                if (memory.Length + n > entry.Length)
                    throw new InvalidDataException($"{path}: {name} holds more bytes than its declared {entry.Length:N0}.");
                memory.Write(buffer, 0, n);
            }
        }
        memory.Position = 0;
        return memory;
    }

    private static PureHDF.VOL.Native.NativeFile OpenStream(MemoryStream stream, string path)
    {
        Reading("model.weights.h5");
        fileLength = stream.Length;
        Prescan(stream, path);
        try
        {
            return H5File.Open(stream, leaveOpen: true);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{path}: model.weights.h5 cannot be read ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    private static PureHDF.VOL.Native.NativeFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No such file: {path}", path);
        if (!IsHdf5(path))
        {
            throw new InvalidDataException(IsZip(path)
                ? $"{path}: a zip archive (a Keras 3 .keras file); this reader takes Keras 2's legacy HDF5 files (.h5, and HDF5 files named .keras)."
                : $"{path}: not an HDF5 file (no HDF5 signature).");
        }
        Reading("the HDF5 superblock");
        fileLength = new FileInfo(path).Length;
        using (var scan = File.OpenRead(path)) Prescan(scan, path);
        try
        {
            return H5File.OpenRead(path);
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: the HDF5 file cannot be read ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    private static string? StringAttribute(IH5Object obj, string name, string path)
    {
        Reading(name);
        if (!obj.AttributeExists(name)) return null;
        try
        {
            var a = obj.Attribute(name);
            CheckAttributeSize(a, name, path, fileLength);
            return a.Space.Dimensions.Length == 0 ? a.Read<string>() : a.Read<string[]>().FirstOrDefault();
        }
        catch (Exception e) when (!IsFileError(e))
        {
            throw new InvalidDataException($"{path}: attribute '{name}' is not a string ({e.Message}).", e);
        }
    }

    private static string[]? StringsAttribute(IH5Object obj, string name, string path)
    {
        Reading(name);
        if (!obj.AttributeExists(name)) return ChunkedStrings(obj, name, path);
        var a = obj.Attribute(name);
        CheckAttributeSize(a, name, path, fileLength);
        // A layer without weights has weight_names as an empty float64 array (h5py's way of storing an empty list).
        if (a.Space.Dimensions.Length == 1 && a.Space.Dimensions[0] == 0) return [];
        try
        {
            return a.Space.Dimensions.Length == 0 ? [a.Read<string>()] : a.Read<string[]>();
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{path}: attribute '{name}' is not a list of names ({e.Message}).", e);
        }
    }

    private static bool IsBeforeKeras3(string? version) =>
        version is not null && (version.StartsWith("1.", StringComparison.Ordinal) || version.StartsWith("2.", StringComparison.Ordinal));

    // What a Keras 1/2 config means, said as Keras 3 says it:
    // - Keras 3 changed what the name hard_sigmoid computes (relu6(x + 3)/6; Keras 1/2: clip(0.2x + 0.5, 0, 1)): a model
    //   from a Keras 2 file must compute what it was trained with, so its activations of that name become Keras 2's.
    // - tf.keras 2.x wrote `time_major` into recurrent configs; false (the default) is Keras 3's only layout and is
    //   dropped; true (time-first inputs) is refused, naming the layer.
    private static string FromKeras2(string config, string path)
    {
        if (!config.Contains("hard_sigmoid", StringComparison.Ordinal) && !config.Contains("time_major", StringComparison.Ordinal)) return config;
        var root = System.Text.Json.Nodes.JsonNode.Parse(config);
        void Walk(System.Text.Json.Nodes.JsonNode? node)
        {
            switch (node)
            {
                case System.Text.Json.Nodes.JsonObject o:
                    foreach (var (key, value) in o.ToList())
                    {
                        if (key is "activation" or "recurrent_activation" or "inner_activation" &&
                            value is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var s) && s == "hard_sigmoid")
                            o[key] = "hard_sigmoid_keras2";
                        else if (key == "time_major" && value is System.Text.Json.Nodes.JsonValue t && t.TryGetValue<bool>(out var timeMajor))
                        {
                            if (timeMajor)
                                throw new InvalidDataException(
                                    $"{path}: layer '{o["name"]?.ToString() ?? "?"}' takes time-major inputs (time_major=True, tf.keras 2.x), which Keras 3 and this library do not.");
                            o.Remove(key);
                        }
                        else Walk(value);
                    }
                    break;
                case System.Text.Json.Nodes.JsonArray a:
                    foreach (var item in a) Walk(item);
                    break;
            }
        }
        Walk(root);
        return root!.ToJsonString();
    }

    private static string LayerOf(string weightPath) => weightPath[..weightPath.IndexOf('/')];

    private static string Shape(IEnumerable<long> dims) => "(" + string.Join(", ", dims) + ")";
}
