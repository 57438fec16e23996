using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Collections.Frozen;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Functional.Models;

/// <summary>
/// Layers as Keras config objects — <c>{"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv2d",
/// "filters": 32, "kernel_size": [3, 3], "padding": "same", …}}</c> — and back. Every layer record is covered by
/// reflection over its Keras constructor (keys are the snake-case argument names), so layers added to the library later
/// need no code here; initializers, regularizers and constraints are nested <c>{"class_name", "config"}</c> objects.
/// </summary>
/// <remarks>
/// Reading never executes code: classes are looked up only among the library's layer records and those registered with
/// <see cref="Register"/>, and a <c>Lambda</c> layer (which holds a function) is refused. Keys a record does not know are
/// rejected, except those Keras writes with a <c>null</c> value for options it leaves off (such as <c>lora_rank</c>);
/// <c>dtype</c> is a <see cref="DTypePolicy"/> (a name, or Keras 3's <c>DTypePolicy</c> object). Every error is a <see cref="ModelConfigException"/> naming the JSON path.
/// </remarks>
public static class LayerConfig
{
    private static readonly ConcurrentDictionary<string, Type> Classes = new(Discover());

    private static Dictionary<string, Type> Discover() =>
        typeof(Layer).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsAbstract && typeof(Layer).IsAssignableFrom(t) && t != typeof(Input))
            .ToDictionary(t => t.Name, t => t);

    /// <summary>The layer class names a config may use (besides <c>InputLayer</c>).</summary>
    public static IReadOnlyCollection<string> KnownClasses => [.. Classes.Keys.Order()];

    /// <summary>Lets configs name a layer record type defined outside this library (its class name is the type name).</summary>
    public static void Register(Type layerType)
    {
        ArgumentNullException.ThrowIfNull(layerType);
        if (layerType.IsAbstract || !typeof(Layer).IsAssignableFrom(layerType))
            throw new ArgumentException($"{layerType.Name} is not a concrete layer record.", nameof(layerType));
        Classes[layerType.Name] = layerType;
    }

    /// <summary>Lets configs name an initializer, regularizer or constraint type defined outside this library.</summary>
    public static void RegisterValue(Type type) => ConfigValues.Register(type);

    /// <summary>The layer's Keras config object.</summary>
    /// <exception cref="NotSupportedException">The layer holds something a config cannot carry, such as code.</exception>
    public static JsonObject Serialize(Layer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        JsonObject config;
        if (layer is Input input)
            config = new JsonObject
            {
                ["batch_shape"] = new JsonArray([null, .. input.Shape.Select(d => (JsonNode?)JsonValue.Create(d))]),
                ["dtype"] = input.TensorDtype,
                ["sparse"] = false,
                ["name"] = input.Name,
            };
        else
        {
            config = new JsonObject();
            foreach (var (key, value) in RecordConfig.For(layer.GetType()).Write(layer, layer.Describe()))
                config[key] = value?.DeepClone();
            // Keras's order: name and trainable first.
            config = Reorder(config, "name", "trainable", "dtype");
        }
        return new JsonObject
        {
            ["module"] = "keras.layers",
            ["class_name"] = layer.ClassName,
            ["config"] = config,
            ["registered_name"] = null,
        };
    }

    /// <summary>Reads a layer from its config object; <paramref name="path"/> prefixes every error's JSON path.</summary>
    /// <remarks>
    /// Keras's old spellings are read as Keras 3 reads them: the class aliases (<c>MaxPool2D</c> is <c>MaxPooling2D</c>, …),
    /// LeakyReLU's <c>alpha</c> (its <c>negative_slope</c>), a <c>null</c> in Reshape's <c>target_shape</c> (the unknown
    /// dimension, <c>-1</c>), and a declared input shape on any layer (<c>batch_input_shape</c>, <c>input_shape</c>,
    /// <c>input_dim</c>), which only a Sequential's first layer uses (see <see cref="Deserialize(JsonNode?, string, out Shape?)"/>).
    /// </remarks>
    /// <exception cref="ModelConfigException">Anything wrong with the document, naming where.</exception>
    public static Layer Deserialize(JsonNode? node, string path = "$") => Deserialize(node, path, out _);

    /// <summary>
    /// Reads a layer and the per-sample input shape its config declares, if any — Keras 2's <c>batch_input_shape</c>
    /// (batch first), or Keras's <c>input_shape</c> (per sample) or <c>input_dim</c> (one dimension) — which a Sequential
    /// model turns into its input when the layer comes first, as Keras does.
    /// </summary>
    public static Layer Deserialize(JsonNode? node, string path, out Shape? inputShape)
    {
        inputShape = null;
        if (node is not JsonObject o) throw ConfigValues.Expected(path, "a layer config object", node);
        var className = ConfigValues.Text(o["class_name"], $"{path}.class_name", "a layer class name");
        var config = o["config"] switch
        {
            JsonObject c => c,
            null when o.ContainsKey("config") => throw ConfigValues.Expected($"{path}.config", "an object", null),
            null => throw new ModelConfigException(path, $"missing field 'config' (the {className} layer's arguments)."),
            var other => throw ConfigValues.Expected($"{path}.config", "an object", other),
        };
        if (className == "InputLayer") return ReadInput(config, $"{path}.config");
        if (className == "Lambda")
            throw new ModelConfigException($"{path}.class_name",
                "Requested the deserialization of a `Lambda` layer with a Python `lambda` inside it. This carries a potential risk of arbitrary " +
                "code execution and thus it is disallowed by default (Keras's safe_mode). Lambda layers hold code, and loading a config never " +
                "executes code, so there is no safe_mode=False here: declare the Lambda in code instead.");
        if (!Classes.TryGetValue(className, out var type) && !Aliases.TryGetValue(className, out type))
            throw new ModelConfigException($"{path}.class_name",
                $"unknown layer class '{className}'. Known: InputLayer, {string.Join(", ", KnownClasses)}.");
        var record = RecordConfig.For(type);
        var shapeKeys = ShapeKeys.GetOrAdd(type, _ => InputShapeKeys.Where(k => !record.Keys.Contains(k))
            .Concat(IgnoredKeys.GetValueOrDefault(type) ?? []).ToFrozenSet());
        inputShape = ReadInputShape(config, $"{path}.config", shapeKeys);
        if (type == typeof(Reshape) && config["target_shape"] is JsonArray target && target.Any(d => d is null))
        {
            // A null (Python's None) is the unknown dimension: Keras's Reshape.call maps None to -1 before reshaping.
            config = (JsonObject)config.DeepClone();
            var dims = config["target_shape"]!.AsArray();
            for (var i = 0; i < dims.Count; i++) dims[i] ??= JsonValue.Create(-1);
        }
        return (Layer)record.Read(config, $"{path}.config", className, shapeKeys, Renamed.GetValueOrDefault(type.Name));
    }

    /// <summary>
    /// Keras's other names for layer classes (one class exported under several names), read as the class itself; configs
    /// are always written with the canonical name.
    /// </summary>
    private static readonly Dictionary<string, Type> Aliases = new()
    {
        ["Convolution1D"] = typeof(Conv1D), ["Convolution2D"] = typeof(Conv2D), ["Convolution3D"] = typeof(Conv3D),
        ["Convolution1DTranspose"] = typeof(Conv1DTranspose), ["Convolution2DTranspose"] = typeof(Conv2DTranspose),
        ["Convolution3DTranspose"] = typeof(Conv3DTranspose),
        ["SeparableConvolution1D"] = typeof(SeparableConv1D), ["SeparableConvolution2D"] = typeof(SeparableConv2D),
        ["MaxPool1D"] = typeof(MaxPooling1D), ["MaxPool2D"] = typeof(MaxPooling2D), ["MaxPool3D"] = typeof(MaxPooling3D),
        ["AvgPool1D"] = typeof(AveragePooling1D), ["AvgPool2D"] = typeof(AveragePooling2D), ["AvgPool3D"] = typeof(AveragePooling3D),
        ["GlobalMaxPool1D"] = typeof(GlobalMaxPooling1D), ["GlobalMaxPool2D"] = typeof(GlobalMaxPooling2D),
        ["GlobalMaxPool3D"] = typeof(GlobalMaxPooling3D),
        ["GlobalAvgPool1D"] = typeof(GlobalAveragePooling1D), ["GlobalAvgPool2D"] = typeof(GlobalAveragePooling2D),
        ["GlobalAvgPool3D"] = typeof(GlobalAveragePooling3D),
    };

    /// <summary>The class aliases a config may use (<c>MaxPool2D</c> for <c>MaxPooling2D</c>, …), each with its canonical class name.</summary>
    public static IReadOnlyDictionary<string, string> KnownAliases => Aliases.ToDictionary(a => a.Key, a => a.Value.Name);

    /// <summary>Old argument names Keras 3 still accepts, per class: old key → current key.</summary>
    private static readonly Dictionary<string, IReadOnlyDictionary<string, string>> Renamed = new()
    {
        [nameof(LeakyReLU)] = new Dictionary<string, string> { ["alpha"] = "negative_slope" },
    };

    /// <summary>Keys Keras 3 accepts and drops, per class: Embedding's deprecated <c>input_length</c> (a warning in Keras 3) and
    /// the recurrent layers' <c>implementation</c> (Keras 2's kernel choice; the numbers do not depend on it).</summary>
    private static readonly Dictionary<Type, string[]> IgnoredKeys = new()
    {
        [typeof(Embedding)] = ["input_length"],
        [typeof(SimpleRNN)] = ["implementation"], [typeof(LSTM)] = ["implementation"], [typeof(GRU)] = ["implementation"],
        // Keras's bookkeeping: the size of a vocabulary kept in the archive's assets, whether it was given; StringLookup's
        // vocabulary_dtype is always "string" and Keras ignores oov_method for strings.
        [typeof(TextVectorization)] = ["vocabulary_size", "has_input_vocabulary"],
        [typeof(StringLookup)] = ["vocabulary_size", "has_input_vocabulary", "vocabulary_dtype", "oov_method"],
        [typeof(IntegerLookup)] = ["vocabulary_size", "has_input_vocabulary"],
    };

    /// <summary>The keys a layer config may declare its input shape with (Keras's <c>Layer.__init__</c> and legacy loader).</summary>
    private static readonly string[] InputShapeKeys = ["input_dim", "batch_input_shape", "input_shape"];

    // Per layer class, the keys read elsewhere or dropped: the input-shape keys that are not its own arguments, and IgnoredKeys.
    private static readonly ConcurrentDictionary<Type, FrozenSet<string>> ShapeKeys = new();

    // Keras's precedence: input_dim, then batch_input_shape (its legacy loader turns it into input_shape), then input_shape.
    private static Shape? ReadInputShape(JsonObject config, string path, IReadOnlySet<string> keys)
    {
        foreach (var key in InputShapeKeys.Where(keys.Contains))
        {
            if (config[key] is not { } value) continue;
            var at = $"{path}.{key}";
            return key switch
            {
                "input_dim" => InputDim((int)ConfigValues.Read(value, typeof(int), at)!, at),
                "batch_input_shape" => ConfigValues.BatchShape(value, at),
                _ => (Shape)ConfigValues.Read(value, typeof(Shape), at)!,
            };
        }
        return null;
    }

    private static Shape InputDim(int n, string path) =>
        n > 0 ? new Shape(n) : throw new ModelConfigException(path, $"expected a positive integer, got {n}.");

    /// <summary>The layer's config as JSON text.</summary>
    public static string ToJson(Layer layer, bool indented = true) =>
        Serialize(layer).ToJsonString(new JsonSerializerOptions { WriteIndented = indented });

    /// <summary>A layer from JSON text.</summary>
    /// <exception cref="JsonException">Invalid JSON, or a <see cref="ModelConfigException"/> naming the path.</exception>
    public static Layer FromJson(string json) => Deserialize(ConfigDocument.Parse(json));

    private static readonly HashSet<string> InputKeys = ["batch_shape", "shape", "batch_input_shape", "input_shape", "dtype", "sparse", "ragged", "optional", "name"];

    private static Input ReadInput(JsonObject config, string path)
    {
        foreach (var (key, value) in config)
        {
            if (!InputKeys.Contains(key))
            {
                if (value is null) continue;
                throw new ModelConfigException($"{path}.{key}", $"InputLayer has no argument '{key}'. Known: {string.Join(", ", InputKeys)}.");
            }
            if (key is "sparse" or "ragged" or "optional" && value is not null
                && value.GetValueKind() != JsonValueKind.False)
                throw new ModelConfigException($"{path}.{key}", $"{key} inputs are not supported; expected false.");
        }
        DTypePolicy? dtype = config["dtype"] is { } d ? ConfigValues.ReadPolicy(d, $"{path}.dtype") : null;
        if (dtype is { IsMixed: true }) dtype = new DTypePolicy(dtype.VariableDtype);   // an Input carries its tensors' dtype
        Shape shape;
        // Keras's InputLayer takes the deprecated input_shape for shape.
        var sampleKey = config["input_shape"] is not null ? "input_shape" : "shape";
        if (config[sampleKey] is { } perSample)
            shape = (Shape)ConfigValues.Read(perSample, typeof(Shape), $"{path}.{sampleKey}")!;
        else
        {
            var key = config.ContainsKey("batch_shape") ? "batch_shape" : config.ContainsKey("batch_input_shape") ? "batch_input_shape" : null;
            if (key is null) throw new ModelConfigException(path, "missing field 'batch_shape' (the input's shape, batch first).");
            shape = ConfigValues.BatchShape(config[key], $"{path}.{key}");
        }
        var name = config["name"] is { } n ? ConfigValues.Text(n, $"{path}.name", "a string") : null;
        try { return new Input(shape) { Name = name, Dtype = dtype! }; }
        catch (ArgumentException e) { throw new ModelConfigException($"{path}.name", e.Message, e); }
    }

    private static JsonObject Reorder(JsonObject config, params string[] first)
    {
        var result = new JsonObject();
        foreach (var k in first.Where(config.ContainsKey)) result[k] = config[k]?.DeepClone();
        foreach (var (k, v) in config.Where(kv => !first.Contains(kv.Key))) result[k] = v?.DeepClone();
        return result;
    }
}
