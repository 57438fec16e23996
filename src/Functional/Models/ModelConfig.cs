using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Functional.Models;

/// <summary>
/// Models as Keras-like config documents (what Keras's <c>model.to_json()</c> writes) and back. A
/// <see cref="Sequential"/> is <c>{"class_name": "Sequential", "config": {"name", "layers": […]}}</c>; a graph
/// <see cref="Model"/> is <c>{"class_name": "Functional", "config": {"name", "layers", "input_layers", "output_layers"}}</c>
/// where each layer entry carries its <c>name</c> and <c>inbound_nodes</c> — one per application, whose arguments are
/// <c>__keras_tensor__</c> objects with a <c>keras_history</c> of <c>[layer, node, tensor]</c>. Nested models are layer
/// entries holding a whole model config.
/// </summary>
/// <remarks>
/// <para>The law: <c>FromJson(ToJson(m))</c> equals <c>m</c> for every model. Reading validates exactly as declaring
/// does, and every problem — malformed JSON, an unknown layer class, a value of the wrong type, a missing field, a
/// reference to a layer or node that does not exist, a cycle — is a <see cref="JsonException"/> (a
/// <see cref="ModelConfigException"/> for the document's content) whose message starts with the JSON path, such as
/// <c>$.config.layers[3].config.kernel_size</c>.</para>
/// <para>Keras's legacy node format (<c>[["conv2d", 0, 0, {}]]</c>), a Sequential's <c>build_input_shape</c>, and Keras 2's
/// Sequential documents — a first layer that declares <c>batch_input_shape</c> instead of an InputLayer, or (before Keras 2.2)
/// a bare list of layers as the config — are also read, as Keras 3 reads them. Loading never executes code (see
/// <see cref="LayerConfig"/>).</para>
/// </remarks>
public static class ModelConfig
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The model's config document as JSON text.</summary>
    public static string ToJson(this IModel model, bool indented = true) =>
        Serialize(model).ToJsonString(indented ? Indented : JsonSerializerOptions.Default);

    /// <summary>A model (a <see cref="Sequential"/> or a graph <see cref="Model"/>) from JSON text.</summary>
    /// <exception cref="JsonException">Invalid JSON, or a <see cref="ModelConfigException"/> naming the path of the problem.</exception>
    public static IModel FromJson(string json)
    {
        // The layer list is read one entry at a time and each entry let go once read, so the document's whole node tree
        // never exists at once (it takes about twelve times the text).
        var (root, layers) = ConfigDocument.ParseModel(json);
        return Deserialize(root, "$", layers);
    }

    /// <summary>A model of a known kind from JSON text.</summary>
    public static TModel FromJson<TModel>(string json) where TModel : IModel =>
        FromJson(json) is TModel m ? m : throw new ModelConfigException("$.class_name", $"expected a {typeof(TModel).Name} config.");

    /// <summary>The model's config document.</summary>
    public static JsonObject Serialize(IModel model) => model switch
    {
        Sequential s => new JsonObject
        {
            ["module"] = "keras",
            ["class_name"] = "Sequential",
            ["config"] = new JsonObject
            {
                ["name"] = s.Name,
                ["trainable"] = true,
                ["dtype"] = "float32",
                ["layers"] = new JsonArray([.. s.Select(LayerConfig.Serialize)]),
            },
            ["registered_name"] = null,
        },
        Model m => new JsonObject
        {
            ["module"] = "keras.src.models.functional",
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = m.Name,
                ["trainable"] = true,
                ["layers"] = new JsonArray([.. m.Operations.Select(o => LayerEntry(m, o))]),
                ["input_layers"] = new JsonArray([.. m.Inputs.Select(r => History(m, r, inModelList: true))]),
                ["output_layers"] = new JsonArray([.. m.Outputs.Select(r => History(m, r, inModelList: true))]),
            },
            ["registered_name"] = "Functional",
        },
        null => throw new ArgumentNullException(nameof(model)),
        _ => throw new NotSupportedException($"Models of type {model.GetType().Name} have no config format."),
    };

    /// <summary>Reads a model config document; <paramref name="path"/> prefixes every error's JSON path.</summary>
    public static IModel Deserialize(JsonNode? node, string path = "$") => Deserialize(node, path, layers: null);

    // A layer list: a node's entries, or (for a document parsed by ConfigDocument.ParseModel) entries made nodes one at a
    // time as they are read.
    private readonly record struct Entries(int Count, Func<int, JsonNode?> Get)
    {
        public static Entries Of(JsonArray a) => new(a.Count, i => a[i]);
        public static Entries Of(LayerEntries l) => new(l.Count, l.Get);
    }

    // layers: the model's layer list when ConfigDocument.ParseModel kept it out of the root node.
    private static IModel Deserialize(JsonNode? node, string path, LayerEntries? layers)
    {
        if (node is not JsonObject o) throw ConfigValues.Expected(path, "a model config object", node);
        var className = ConfigValues.Text(o["class_name"], $"{path}.class_name", "a model class name ('Sequential' or 'Functional')");
        // Keras before 2.2 wrote a Sequential's config as the bare list of its layers; Keras 3 still reads it.
        if (layers is { Legacy: true })
            return className == "Sequential"
                ? ReadSequential(new JsonObject(), Entries.Of(layers), $"{path}.config", $"{path}.config")
                : throw ConfigValues.Expected($"{path}.config", "an object", layers.Whole());
        if (className == "Sequential" && o["config"] is JsonArray legacyLayers)
            return ReadSequential(new JsonObject(), Entries.Of(legacyLayers), $"{path}.config", $"{path}.config");
        if (o["config"] is not JsonObject config) throw ConfigValues.Expected($"{path}.config", "an object", o["config"]);
        Entries LayerList(string what) => layers is not null ? Entries.Of(layers)
            : config["layers"] is JsonArray a ? Entries.Of(a)
            : throw ConfigValues.Expected($"{path}.config.layers", what, config["layers"]);
        return className switch
        {
            "Sequential" => ReadSequential(config, LayerList("a list of layer configs"), $"{path}.config", $"{path}.config.layers"),
            "Functional" or "Model" => ReadGraph(config, LayerList("a list of layer entries"), $"{path}.config"),
            _ => throw new ModelConfigException($"{path}.class_name", $"unknown model class '{className}'. Known: Sequential, Functional."),
        };
    }

    private static JsonObject LayerEntry(Model model, GraphLayer op)
    {
        var entry = op.Model is { } nested ? Serialize(nested) : LayerConfig.Serialize(op.Layer!);
        entry["name"] = op.Name;
        entry["inbound_nodes"] = op.IsInput ? new JsonArray() : new JsonArray([.. op.Nodes.Select(n => (JsonNode)new JsonObject
        {
            ["args"] = new JsonArray(n.Inputs.Length == 1
                ? KerasTensor(model, n.Inputs[0])
                : new JsonArray([.. n.Inputs.Select(r => KerasTensor(model, r))])),
            ["kwargs"] = new JsonObject(),
        })]);
        return entry;
    }

    private static JsonNode KerasTensor(Model model, TensorRef r) => new JsonObject
    {
        ["class_name"] = "__keras_tensor__",
        ["config"] = new JsonObject
        {
            ["shape"] = new JsonArray([null, .. model.ShapeOf(r).Select(d => (JsonNode?)JsonValue.Create(d))]),
            // The tensor's dtype: an Input's own, a layer's compute dtype (bfloat16 under mixed_bfloat16), as Keras writes it.
            ["dtype"] = model.GetLayer(r.Layer).Layer switch
            {
                Input i => i.TensorDtype,
                Layer l => l.Dtype.ComputeDtype,
                null => "float32",
            },
            ["keras_history"] = History(model, r, inModelList: false),
        },
    };

    // Keras numbers a nested Functional model's nodes from 1 in input_layers/output_layers (node 0 is its own graph).
    private static JsonNode History(Model model, TensorRef r, bool inModelList) =>
        new JsonArray(r.Layer, r.Node + (inModelList && model.GetLayer(r.Layer).Model is Model ? 1 : 0), r.Tensor);

    /// <summary>
    /// A Sequential's layers. Its input, as Keras 3 decides it: a leading InputLayer; else the input shape its first layer
    /// declares (Keras 2's <c>batch_input_shape</c>, or <c>input_shape</c>/<c>input_dim</c>); else <c>build_input_shape</c>.
    /// </summary>
    private static Sequential ReadSequential(JsonObject config, Entries entries, string path, string layersPath)
    {
        var name = config["name"] is { } n ? ConfigValues.Text(n, $"{path}.name", "a string") : "sequential";
        var trainable = ReadTrainable(config, path);
        var layers = new List<Layer>();
        Shape? declared = null;
        for (var i = 0; i < entries.Count; i++)
        {
            var at = $"{layersPath}[{i}]";
            var entry = entries.Get(i);
            if (entry is JsonObject e && e["class_name"]?.GetValueKind() == JsonValueKind.String
                && e["class_name"]!.GetValue<string>() is "Sequential" or "Functional" or "Model")
                throw new ModelConfigException($"{at}.class_name", "a Sequential model holds layers only; nest models in a graph (Functional) model.");
            var layer = LayerConfig.Deserialize(entry, at, out var inputShape);
            if (i == 0) declared = inputShape;
            layers.Add(trainable ? layer : layer.WithTrainable(false));
        }
        if (layers.FirstOrDefault() is not Input)
        {
            if (declared is not null)
                layers.Insert(0, new Input(declared));
            else if (config["build_input_shape"] is JsonArray { Count: > 0 } shape)
                layers.Insert(0, new Input(ConfigValues.BatchShape(shape, $"{path}.build_input_shape")));
            else
                throw new ModelConfigException(layersPath,
                    "a Sequential config must start with an InputLayer, or its first layer must declare its input shape " +
                    "(batch_input_shape, input_shape or input_dim), or the config must give build_input_shape.");
        }
        try { return new Sequential(name, layers); }
        catch (ArgumentException e) { throw Located(e, layersPath, layers.Select(l => l.Name).ToList(), offset: layers.Count - entries.Count); }
    }

    private static Model ReadGraph(JsonObject config, Entries entries, string path)
    {
        var name = config["name"] is { } n ? ConfigValues.Text(n, $"{path}.name", "a string") : "functional";
        var trainable = ReadTrainable(config, path);

        // First every operation, its name and its inbound nodes (each entry is let go once read), so that references can
        // be checked against all of them.
        var ops = new List<GraphOperation>();
        var names = new List<string>();
        var indexOf = new Dictionary<string, int>();
        var nodeCounts = new int[entries.Count];
        var wired = new List<WiredOperation>();
        for (var i = 0; i < entries.Count; i++)
        {
            var at = $"{path}.layers[{i}]";
            var entry = entries.Get(i);
            if (entry is not JsonObject e) throw ConfigValues.Expected(at, "a layer entry object", entry);
            var cls = ConfigValues.Text(e["class_name"], $"{at}.class_name", "a layer class name");
            var op = cls is "Sequential" or "Functional" or "Model" ? GraphOperation.Of(Deserialize(e, at, layers: null)) : LayerConfig.Deserialize(e, at);
            var entryName = e["name"] is { } en ? ConfigValues.Text(en, $"{at}.name", "a string") : null;
            var ownName = op.Name;
            if (entryName is not null && ownName is not null && entryName != ownName)
                throw new ModelConfigException($"{at}.name", $"the entry is named '{entryName}' but its config names it '{ownName}'.");
            var resolved = entryName ?? ownName ?? throw new ModelConfigException(at, "missing field 'name' (graph layers are wired by name).");
            if (op.Layer is { } layer)
            {
                if (layer.Name is null) layer = layer with { Name = resolved };
                if (!trainable) layer = layer.WithTrainable(false);
                op = layer;
            }
            if (!indexOf.TryAdd(resolved, names.Count))
                throw new ModelConfigException($"{at}.name", $"the name '{Excerpt.Of(resolved)}' is used by more than one layer; names must be unique.");
            ops.Add(op);
            names.Add(resolved);

            var nodesAt = $"{at}.inbound_nodes";
            var inbound = e["inbound_nodes"] switch
            {
                JsonArray a => a,
                null when op.IsInput => [],
                var other => throw ConfigValues.Expected(nodesAt, "a list of nodes", other),
            };
            var nodes = inbound.Select((node, k) => ReadNode(node, $"{nodesAt}[{k}]")).ToList();
            if (op.IsInput) nodes = [[]];
            nodeCounts[i] = nodes.Count;
            wired.Add(new WiredOperation(op, nodes));
        }

        // Dangling references are reported where they are written.
        void Check(TensorRef r, string at)
        {
            var k = indexOf.GetValueOrDefault(r.Layer, -1);
            if (k < 0) throw new ModelConfigException(at, $"refers to layer '{Excerpt.Of(r.Layer)}', which is not in the model. Layers: {Excerpt.List(names)}.");
            if (r.Node < 0 || r.Node >= nodeCounts[k])
                throw new ModelConfigException(at, $"refers to node {r.Node} of '{r.Layer}', which has {nodeCounts[k]} node(s).");
            var outputs = ops[k].OutputCount;
            if (r.Tensor < 0 || r.Tensor >= outputs)
                throw new ModelConfigException(at, $"refers to output {r.Tensor} of '{r.Layer}', which has {outputs} output(s).");
        }
        for (var i = 0; i < entries.Count; i++)
            if (!ops[i].IsInput)
                for (var k = 0; k < wired[i].Nodes.Count; k++)
                    for (var j = 0; j < wired[i].Nodes[k].Count; j++)
                        Check(wired[i].Nodes[k][j], $"{path}.layers[{i}].inbound_nodes[{k}]");

        List<TensorRef> ReadList(string key)
        {
            var at = $"{path}.{key}";
            var node = config[key] ?? throw new ModelConfigException(path, $"missing field '{key}'.");
            // One leaf ["name", node, tensor], or a list of leaves.
            var leaves = node is JsonArray { Count: 3 } a && a[0]?.GetValueKind() == JsonValueKind.String ? [node]
                : node is JsonArray list ? list.ToList()
                : throw ConfigValues.Expected(at, "a list of [layer, node, tensor] references", node);
            return leaves.Select((leaf, i) =>
            {
                var leafPath = leaves.Count == 1 && leaf == node ? at : $"{at}[{i}]";
                var r = ReadHistory(leaf, leafPath);
                // Keras counts a nested Functional model's nodes from 1 here.
                if (indexOf.GetValueOrDefault(r.Layer, -1) is var k and >= 0 && ops[k].Model is Model) r = r with { Node = r.Node - 1 };
                Check(r, leafPath);
                return r;
            }).ToList();
        }
        var inputs = ReadList("input_layers");
        var outputsRefs = ReadList("output_layers");

        try { return new Model(name, wired, inputs, outputsRefs); }
        catch (ArgumentException e) { throw Located(e, $"{path}.layers", names, offset: 0); }
    }

    private static bool ReadTrainable(JsonObject config, string path) =>
        config["trainable"] is not { } t || (bool)ConfigValues.Read(t, typeof(bool), $"{path}.trainable")!;

    /// <summary>
    /// A JSON path made only when an error needs it: <c>Parent[Index]Suffix</c> (no index when it is negative). A node may
    /// list millions of tensors; each would otherwise cost a path string.
    /// </summary>
    private readonly record struct At(string Parent, int Index = -1, string Suffix = "")
    {
        public override string ToString() => Index < 0 ? Parent + Suffix : $"{Parent}[{Index}]{Suffix}";
    }

    /// <summary>One inbound node: Keras 3's <c>{"args": […], "kwargs": {}}</c> or the legacy <c>[["name", node, tensor, {}], …]</c>.</summary>
    private static IReadOnlyList<TensorRef> ReadNode(JsonNode? node, string path)
    {
        var refs = new List<TensorRef>();
        switch (node)
        {
            case JsonObject o:
                if (o["args"] is not JsonArray args) throw ConfigValues.Expected($"{path}.args", "a list of arguments", o["args"]);
                void Collect(JsonNode? arg, At at)
                {
                    switch (arg)
                    {
                        case JsonArray list:
                            var listPath = at.ToString();
                            for (var i = 0; i < list.Count; i++) Collect(list[i], new At(listPath, i));
                            break;
                        case JsonObject kt when kt["class_name"]?.GetValueKind() == JsonValueKind.String
                                                && kt["class_name"]!.GetValue<string>() == "__keras_tensor__":
                            if (kt["config"] is not JsonObject c) throw ConfigValues.Expected($"{at}.config", "an object", kt["config"]);
                            refs.Add(ReadHistory(c["keras_history"], at with { Suffix = at.Suffix + ".config.keras_history" }));
                            break;
                        default:
                            throw ConfigValues.Expected(at.ToString(), "a __keras_tensor__ object or a list of them", arg);
                    }
                }
                var argsPath = $"{path}.args";
                for (var i = 0; i < args.Count; i++) Collect(args[i], new At(argsPath, i));
                if (o["kwargs"] is JsonObject kwargs)
                    foreach (var (key, value) in kwargs)
                        if (value is not null && value.GetValueKind() != JsonValueKind.False)
                            throw new ModelConfigException($"{path}.kwargs.{key}", "keyword arguments to layer calls are not supported.");
                break;
            case JsonArray legacy:
                for (var i = 0; i < legacy.Count; i++) refs.Add(ReadHistory(legacy[i], new At(path, i)));
                break;
            default:
                throw ConfigValues.Expected(path, "a node ({\"args\": [...], \"kwargs\": {}})", node);
        }
        if (refs.Count == 0) throw new ModelConfigException(path, "a node needs at least one input tensor.");
        return refs;
    }

    private static TensorRef ReadHistory(JsonNode? node, string path) => ReadHistory(node, new At(path));

    private static TensorRef ReadHistory(JsonNode? node, At at)
    {
        if (node is not JsonArray { Count: >= 3 and <= 4 } a) throw ConfigValues.Expected(at.ToString(), "[layer name, node index, tensor index]", node);
        var layer = a[0] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : ConfigValues.Text(a[0], $"{at}[0]", "a layer name");
        return new TensorRef(layer, Index(a[1], at, 1), Index(a[2], at, 2));
    }

    private static int Index(JsonNode? node, At at, int i) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var n) ? n
            : (int)ConfigValues.Read(node, typeof(int), $"{at}[{i}]")!;

    // A model-level error (a cycle, a layer that cannot take its input, …): point at the layer it names when it names one.
    private static ModelConfigException Located(ArgumentException e, string layersPath, IReadOnlyList<string?> names, int offset)
    {
        var at = layersPath;
        if (e is ShapeException s)
            for (var i = offset; i < names.Count; i++)
                if (names[i] is { } n && s.Layer.EndsWith($"'{n}'", StringComparison.Ordinal)) { at = $"{layersPath}[{i - offset}]"; break; }
        return new ModelConfigException(at, e.Message, e);
    }
}
