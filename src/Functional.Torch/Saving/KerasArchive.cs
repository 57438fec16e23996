using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Functional.Layers;
using Functional.Models;
using Functional.Shapes;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Saving;

/// <summary>
/// One object of Keras's saving walk (keras/src/saving/saving_lib.py, <c>_save_state</c>): the path of its group
/// (<c>""</c> for the model itself, <c>layers/lstm/cell</c>, …), the name Keras 3.6+ writes as the attribute <c>name</c> of
/// its <c>vars</c> group, and the model weights (by this library's names, <c>lstm/kernel</c>) it owns, in Keras's order.
/// </summary>
internal sealed record KerasSaveable(string Path, string Name, IReadOnlyList<string> Variables)
{
    /// <summary>The group holding the object's variables as datasets <c>0</c>, <c>1</c>, ….</summary>
    public string VarsPath => Path.Length == 0 ? "vars" : Path + "/vars";
}

/// <summary>
/// Where Keras 3's <c>saving_lib</c> puts each weight of a model, reproduced from the model's declaration:
/// <list type="bullet">
/// <item>the model is the object at <c>""</c>; Sequential and Functional models save <c>model.layers</c> first, each at
/// <c>layers/&lt;snake_case(class)&gt;</c>, the second and later of one class numbered <c>_1</c>, <c>_2</c>, …
/// (<c>_save_container_state</c>: by class, never by the layer's own name). A Sequential's layers omit its InputLayer;
/// a Functional's include theirs.</item>
/// <item>each object saves its own variables (<c>Layer.save_own_variables</c>: trainable, then non-trainable) under
/// <c>&lt;path&gt;/vars/&lt;i&gt;</c>, then its sub-objects by attribute: a recurrent layer's <c>cell</c>,
/// Bidirectional's <c>forward_layer</c> and <c>backward_layer</c>, TimeDistributed's <c>layer</c>, MultiHeadAttention's
/// <c>_query_dense</c>, <c>_key_dense</c>, <c>_value_dense</c>, <c>_output_dense</c> (and its weightless
/// <c>_softmax</c> and <c>_dropout_layer</c>), a nested model's own <c>layers</c>.</item>
/// <item>since Keras 3.6 every object with a name gets its <c>vars</c> group at once, with the attribute
/// <c>name</c> (<c>H5IOStore.make(path, metadata={"name": ...})</c>), so weightless layers have empty groups.</item>
/// </list>
/// </summary>
internal static class KerasLayout
{
    /// <summary>
    /// The objects of <paramref name="model"/> in Keras's walk (every name of <paramref name="weights"/> owned by exactly
    /// one), and the weights in Keras's variable order (<c>model.weights</c>: layer by layer in <c>model.layers</c> order,
    /// nested models in place; within a layer its tracking order, which is this library's: query, key, value, output;
    /// forward, backward).
    /// </summary>
    /// <exception cref="NotSupportedException">A layer keeps weights in sub-objects whose Keras layout is not known here (named).</exception>
    public static (List<KerasSaveable> Objects, List<string> Order) Walk(IModel model, IReadOnlyList<string> weights)
    {
        var walk = new Walker(weights);
        walk.Model(model, "", "");
        if (walk.Remaining.Count > 0)
            throw new NotSupportedException(
                $"Model '{model.Name}': weight(s) {string.Join(", ", walk.Remaining.Order(StringComparer.Ordinal).Select(n => $"'{n}'"))} " +
                "belong to sub-objects whose place in Keras's .keras layout is not known to this library.");
        var order = weights.Select((w, i) => (w, i)).OrderBy(p => walk.Rank[p.w]).ThenBy(p => p.i).Select(p => p.w).ToList();
        return (walk.Objects, order);
    }

    private sealed class Walker(IReadOnlyList<string> weights)
    {
        public List<KerasSaveable> Objects { get; } = [];
        public HashSet<string> Remaining { get; } = new(weights, StringComparer.Ordinal);
        // Each weight's layer: its position in the walk of model.layers (nested models' layers in place).
        public Dictionary<string, int> Rank { get; } = new(StringComparer.Ordinal);
        private int layerRank;

        // The weights directly under prefix ("dense/" owns "dense/kernel", not "dense/sub/kernel"), in the network's order.
        private List<string> Take(string prefix)
        {
            var own = weights.Where(w => w.StartsWith(prefix, StringComparison.Ordinal) && w.IndexOf('/', prefix.Length) < 0 && Remaining.Contains(w)).ToList();
            foreach (var w in own)
            {
                Remaining.Remove(w);
                Rank[w] = layerRank;
            }
            return own;
        }

        private void Add(string path, string name, IReadOnlyList<string> variables) => Objects.Add(new KerasSaveable(path, name, variables));

        private static string Join(string path, string child) => path.Length == 0 ? child : path + "/" + child;

        public void Model(IModel model, string prefix, string path)
        {
            Add(path, model.Name, Take(prefix));
            IEnumerable<(string Name, string ClassName, Layer? Layer, IModel? Nested)> members = model switch
            {
                // Keras's Sequential.layers leaves out the InputLayer at the bottom of the stack.
                Sequential s => s.Layers.Select(l => (l.Name ?? l.DefaultNameStem, l.ClassName, (Layer?)l, (IModel?)null)),
                Functional.Models.Model g => g.Operations.Select(o => (o.Name, o.ClassName, o.Layer, o.Model)),
                _ => throw new NotSupportedException($"Models of type {model.GetType().Name} have no .keras layout."),
            };
            var used = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (name, className, layer, nested) in members)
            {
                var key = Naming.ToSnakeCase(nested is Sequential ? "Sequential" : nested is not null ? "Functional" : className);
                if (used.TryGetValue(key, out var n)) { used[key] = ++n; key = $"{key}_{n}"; }
                else used[key] = 0;
                var at = Join(path, "layers/" + key);
                layerRank++;
                if (nested is not null) Model(nested, prefix + name + "/", at);
                else Layer(layer!, name, prefix + name + "/", at);
            }
        }

        private void Layer(Layer layer, string name, string prefix, string path)
        {
            switch (layer)
            {
                case Bidirectional b:
                    Add(path, name, Take(prefix));
                    Wrapped(b.Layer, "forward_", prefix, Join(path, "forward_layer"));
                    Wrapped(b.BackwardLayer ?? b.Layer, "backward_", prefix, Join(path, "backward_layer"));
                    break;
                case RecurrentLayer r:
                    // keras/src/layers/rnn: LSTM(...) builds LSTMCell(name="lstm_cell"), GRU "gru_cell", SimpleRNN "simple_rnn_cell".
                    Add(path, name, []);
                    Add(Join(path, "cell"), r.DefaultNameStem + "_cell", Take(prefix));
                    break;
                case RNN rnn when rnn.Cell is StackedRNNCells stack:
                    // keras.layers.RNN keeps its cell as `cell`; StackedRNNCells keeps its list as `cells`, saved as a
                    // container (by class: lstm_cell, lstm_cell_1, gru_cell). Here each cell's weights are under its name.
                    Add(path, name, []);
                    Add(Join(path, "cell"), "stacked_rnn_cells", []);
                    var names = weights.Where(w => w.StartsWith(prefix, StringComparison.Ordinal) && w.IndexOf('/', prefix.Length) > 0)
                        .Select(w => w[prefix.Length..w.IndexOf('/', prefix.Length)]).Distinct().ToList();
                    if (names.Count != stack.Cells.Length)
                        throw new NotSupportedException($"Layer '{name}': {stack.Cells.Length} stacked cells but weights under {names.Count} cell names.");
                    var cells = new Dictionary<string, int>(StringComparer.Ordinal);
                    foreach (var (cell, cellName) in stack.Cells.Zip(names))
                    {
                        var key = Naming.ToSnakeCase(cell.ClassName);
                        if (cells.TryGetValue(key, out var k)) { cells[key] = ++k; key = $"{key}_{k}"; }
                        else cells[key] = 0;
                        Add(Join(path, "cell/cells/" + key), cellName, Take(prefix + cellName + "/"));
                    }
                    break;
                case RNN rnn:
                    Add(path, name, []);
                    Add(Join(path, "cell"), rnn.Cell.Name ?? rnn.Cell.DefaultNameStem, Take(prefix));
                    break;
                case TimeDistributed t:
                    // The wrapped layer's weights carry the wrapper's name (time_distributed/kernel) but live in its `layer`.
                    Add(path, name, []);
                    Layer(t.Layer, t.Layer.Name ?? t.Layer.DefaultNameStem, prefix, Join(path, "layer"));
                    break;
                case MultiHeadAttention:
                    // keras/src/layers/attention/multi_head_attention.py: EinsumDense sub-layers named query, key, value and
                    // attention_output, plus a Softmax and a Dropout (no variables).
                    Add(path, name, []);
                    foreach (var (attribute, sub) in new[] { ("_dropout_layer", "dropout"), ("_key_dense", "key"), ("_output_dense", "attention_output"),
                                                             ("_query_dense", "query"), ("_softmax", "softmax"), ("_value_dense", "value") })
                        Add(Join(path, attribute), sub, Take(prefix + sub + "/"));
                    break;
                default:
                    Add(path, name, Take(prefix));
                    break;
            }
        }

        // Bidirectional's forward or backward layer: its weights are under "<bidirectional>/<forward_gru>/…".
        private void Wrapped(Layer inner, string direction, string prefix, string path)
        {
            var sub = weights.Where(w => w.StartsWith(prefix + direction, StringComparison.Ordinal))
                .Select(w => w[prefix.Length..w.IndexOf('/', prefix.Length)]).FirstOrDefault()
                ?? direction + (inner.Name ?? inner.DefaultNameStem);
            Layer(inner, sub, prefix + sub + "/", path);
        }
    }
}

/// <summary>
/// Writing a <c>model.weights.h5</c> as h5py does for saving_lib: a group per object with its <c>vars</c> group (attribute
/// <c>name</c>, a variable-length string), datasets named <c>0</c>, <c>1</c>, … holding each variable in its own dtype
/// (scalars as scalar dataspaces).
/// </summary>
internal static class KerasWeightsWriter
{
    public static H5File Create() => new();

    /// <summary>The vars group at <paramref name="varsPath"/>, created with its parents.</summary>
    public static H5Group Vars(H5File file, string varsPath, string? name)
    {
        H5Group g = file;
        foreach (var part in varsPath.Split('/'))
        {
            if (!g.TryGetValue(part, out var child))
            {
                child = new H5Group();
                g[part] = child;
            }
            g = (H5Group)child;
        }
        if (name is not null) g.Attributes["name"] = name;
        return g;
    }

    /// <summary>A dataset holding <paramref name="tensor"/> (copied to the CPU) in its dtype; bfloat16 is written as float32.</summary>
    public static H5Dataset Dataset(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var t = tensor.detach().cpu().contiguous();
        var dims = t.shape.Select(d => (ulong)d).ToArray();
        object data = t.dtype switch
        {
            ScalarType.Float32 => t.data<float>().ToArray(),
            ScalarType.Float64 => t.data<double>().ToArray(),
            ScalarType.Float16 => t.to_type(ScalarType.Float32).data<float>().ToArray(),
            ScalarType.BFloat16 => t.to_type(ScalarType.Float32).data<float>().ToArray(),
            ScalarType.Int64 => t.data<long>().ToArray(),
            ScalarType.Int32 => t.data<int>().ToArray(),
            ScalarType.Bool => t.to_type(ScalarType.Byte).data<byte>().ToArray(),
            ScalarType.Byte => t.data<byte>().ToArray(),
            _ => throw new NotSupportedException($"A weight of dtype {t.dtype} cannot be written to a .keras file."),
        };
        return Scalar(data, dims);
    }

    /// <summary>A dataset of one value with a scalar dataspace (shape <c>()</c>, as Keras writes <c>iteration</c>).</summary>
    public static H5Dataset Scalar<T>(T value) where T : struct => new(new[] { value }, fileDims: []);

    private static H5Dataset Scalar(object data, ulong[] dims) => new(data, fileDims: dims);
}

/// <summary>Reading the object groups of a Keras 3 weights file: one HDF5 file, or the shards a <c>.weights.json</c> index names.</summary>
internal sealed class KerasWeightsSource : IDisposable
{
    private readonly IH5Group? root;
    private readonly Func<string, IH5Group?>? shardFor;
    private readonly List<IDisposable> owned = [];

    /// <summary>The file the messages name.</summary>
    public string Path { get; }

    public KerasWeightsSource(IH5Group root, string path, params IDisposable[] owned)
    {
        this.root = root;
        Path = path;
        this.owned = [.. owned];
    }

    private KerasWeightsSource(IH5Group? root, string path, Func<string, IH5Group?> shardFor, List<IDisposable> owned)
    {
        this.root = root;
        Path = path;
        this.shardFor = shardFor;
        this.owned = owned;
    }

    /// <summary>The group at <paramref name="groupPath"/> (<c>layers/dense/vars</c>), or null when the file has none.</summary>
    public IH5Group? Group(string groupPath)
    {
        // A shard index names the file of each group holding variables; a group it does not name is not there.
        var start = shardFor is not null ? shardFor(groupPath) : root;
        if (start is null) return null;
        IH5Group g = start;
        foreach (var part in groupPath.Split('/'))
        {
            if (!g.LinkExists(part)) return null;
            g = g.Group(part);
        }
        return g;
    }

    /// <summary>The largest shard index read (<c>.weights.json</c>): Keras's index is a few kilobytes per object.</summary>
    private const long MaxIndexBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Keras's sharded weights (<c>ShardedH5IOStore</c> in saving_lib.py): a JSON index <c>{"metadata": {...},
    /// "weight_map": {"/layers/dense/vars": "model_00000.weights.h5", …}}</c> next to its shards. Each shard must be a plain
    /// file name in the index's folder (no folders, no <c>..</c>).
    /// </summary>
    public static KerasWeightsSource OpenSharded(string indexPath)
    {
        var info = new FileInfo(indexPath);
        if (!info.Exists) throw new FileNotFoundException($"No such file: {indexPath}", indexPath);
        if (info.Length > MaxIndexBytes) throw new InvalidDataException($"{indexPath}: a shard index of {info.Length:N0} bytes is larger than this reader takes ({MaxIndexBytes:N0}).");
        JsonObject map;
        try
        {
            map = JsonNode.Parse(File.ReadAllText(indexPath))?["weight_map"] as JsonObject
                ?? throw new InvalidDataException($"{indexPath}: not a Keras shard index (no object 'weight_map').");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{indexPath}: the shard index is not valid JSON ({e.Message}).", e);
        }
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shardOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in map)
        {
            var file = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (file is null || file.Length == 0 || file.IndexOfAny(['/', '\\', ':']) >= 0 || file is "." or ".." || file.Contains("..", StringComparison.Ordinal))
                throw new InvalidDataException($"{indexPath}: weight_map['{key}'] = {value?.ToJsonString() ?? "null"} is not the name of a shard file next to the index.");
            shardOf[key.TrimStart('/')] = file;
        }
        var owned = new List<IDisposable>();
        var open = new Dictionary<string, IH5Group>(StringComparer.Ordinal);
        IH5Group? ShardFor(string groupPath)
        {
            if (!shardOf.TryGetValue(groupPath, out var file)) return null;
            if (open.TryGetValue(file, out var g)) return g;
            var shardPath = System.IO.Path.Combine(folder, file);
            if (!File.Exists(shardPath)) throw new FileNotFoundException($"{indexPath}: shard '{file}' (for {groupPath}) is missing.", shardPath);
            if (!KerasH5.IsHdf5(shardPath)) throw new InvalidDataException($"{shardPath}: a shard named by {indexPath} is not an HDF5 file.");
            try
            {
                var opened = H5File.OpenRead(shardPath);
                owned.Add(opened);
                return open[file] = opened;
            }
            catch (Exception e) when (e is not IOException)
            {
                throw new InvalidDataException($"{shardPath}: the shard cannot be read ({e.GetType().Name}: {e.Message}).", e);
            }
        }
        return new KerasWeightsSource(null, indexPath, ShardFor, owned);
    }

    public void Dispose()
    {
        foreach (var d in owned) d.Dispose();
    }
}
