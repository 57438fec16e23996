using System.Text.Json.Nodes;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Saving;

/// <summary>
/// Keras 1 files and the older corners of the legacy HDF5 layout: Keras 1 layer arguments (converted as Keras 2's
/// <c>keras/legacy/interfaces.py</c> converted them), Keras 1's per-gate recurrent arrays (converted as tf.keras's
/// <c>preprocess_weights_for_loading</c> does), attributes split over <c>layer_names0</c>, <c>layer_names1</c>, … (Keras's
/// <c>load_attributes_from_hdf5_group</c>), and models that were never built.
/// </summary>
public static partial class KerasH5
{
    /// <summary>
    /// A model from a Keras config document (<c>model.to_json()</c>, or a file's <c>model_config</c>), read as Keras 3
    /// reads it, after converting what older Keras wrote: Keras 1 argument names (<c>output_dim</c>, <c>init</c>,
    /// <c>border_mode</c>, …), Keras 1/2's <c>hard_sigmoid</c>, tf.keras's <c>time_major</c>. The writer's version is
    /// <paramref name="kerasVersion"/>, else the document's own <c>keras_version</c> field, else taken as Keras 3.
    /// </summary>
    /// <exception cref="InvalidDataException">The config cannot be read (the message names the JSON path).</exception>
    public static IModel ReadConfig(string json, string? kerasVersion = null, string source = "the config")
    {
        ArgumentNullException.ThrowIfNull(json);
        return Guard(source, () =>
        {
            kerasVersion ??= VersionIn(json);
            return Declare(Upgrade(json, kerasVersion, source), kerasVersion, source);
        });
    }

    /// <summary>
    /// The layers of a Sequential model that Keras saved without ever building it (no input shape and no weights, as
    /// Keras.NET's and Keras 2's <c>model.save</c> write a model that was compiled but never called): Keras loads such a
    /// model unbuilt; here the layers are returned so the caller declares the input, e.g.
    /// <c>new Sequential([new Input(28, 28), ..KerasH5.LoadLayers(path)])</c>.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a Keras model file, or not a Sequential config.</exception>
    public static IReadOnlyList<Layer> LoadLayers(string path) => Guard(path, () =>
    {
        var (config, version) = ConfigOf(path);
        var root = JsonNode.Parse(Upgrade(config, version, path), documentOptions: new() { MaxDepth = MaxConfigDepth });
        var layers = root is JsonObject o && o["class_name"]?.ToString() == "Sequential" ? LayersOf(o) : null;
        if (layers is null)
            throw FileError(path, "model_config", $"{path}: model_config is not a Sequential model's config; LoadLayers reads the layers of a Sequential model.");
        var result = new List<Layer>();
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = LayerConfig.Deserialize(layers[i], $"$.config.layers[{i}]");
            if (layer is not Input) result.Add(layer);
        }
        return result;
    });

    // The deepest config this reader walks (Keras's own configs nest a few levels per nested model).
    private const int MaxConfigDepth = ConfigDocument.MaxDepth;

    // The config document a file declares and the Keras version that wrote it.
    private static (string Config, string? Version) ConfigOf(string path)
    {
        using var file = Open(path);
        var config = StringAttribute(file, "model_config", path)
            ?? throw FileError(path, "model_config", $"{path}: the file holds no model config (attribute 'model_config').");
        return (config, StringAttribute(file, "keras_version", path));
    }

    private static string? VersionIn(string json)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: new() { MaxDepth = MaxConfigDepth }) is JsonObject o && o["keras_version"] is JsonValue v ? v.ToString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;   // the config reader reports the malformed document, naming where
        }
    }

    // A Keras 1/2 config said as Keras 3 says it (a Keras 3 config unchanged).
    private static string Upgrade(string config, string? version, string path) =>
        IsBeforeKeras3(version) ? Keras2Arguments(FromKeras2(IsKeras1(version) ? FromKeras1(config, path) : config, path)) : config;

    // Arguments tf.keras 2.x wrote that meant nothing, said as what they did:
    // - SeparableConv1D/2D inherited Conv's kernel_initializer, kernel_regularizer and kernel_constraint and wrote them into
    //   its config, but its weights are depthwise_kernel and pointwise_kernel, which have their own: the three are dropped.
    //   (Keras 3 refuses them as unrecognized arguments; dropping them loads what tf.keras built.)
    // - An InputLayer of an unsigned dtype torch cannot compute with (uint16, uint32, uint64) carries indices: it is read as
    //   the signed dtype that holds every such value (int32, int64, int64).
    private static string Keras2Arguments(string config)
    {
        if (!config.Contains("SeparableConv", StringComparison.Ordinal) && !config.Contains("\"uint", StringComparison.Ordinal)) return config;
        var root = JsonNode.Parse(config, documentOptions: new() { MaxDepth = MaxConfigDepth });
        void Walk(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    var cls = o["class_name"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
                    if (o["config"] is JsonObject c)
                    {
                        if (cls is "SeparableConv1D" or "SeparableConv2D" or "SeparableConvolution1D" or "SeparableConvolution2D")
                            foreach (var key in new[] { "kernel_initializer", "kernel_regularizer", "kernel_constraint" }) c.Remove(key);
                        if (cls == "InputLayer" && c["dtype"] is JsonValue d && d.TryGetValue<string>(out var dtype) && dtype is "uint16" or "uint32" or "uint64")
                            c["dtype"] = dtype == "uint16" ? "int32" : "int64";
                    }
                    foreach (var (_, child) in o.ToList()) Walk(child);
                    break;
                case JsonArray a:
                    foreach (var item in a) Walk(item);
                    break;
            }
        }
        Walk(root);
        return root!.ToJsonString();
    }

    private static bool IsKeras1(string? version) => version is not null && version.StartsWith("1.", StringComparison.Ordinal);

    // A config that says nothing about its input and a file with no weights: a model Keras saved before building it.
    private static bool IsUnbuilt(Exception e) =>
        e.Message.Contains("must start with an InputLayer", StringComparison.Ordinal);

    private static InvalidDataException Unbuilt(string path, string? version, Exception e) =>
        FileError(path, "model_config",
            $"{path}: the model (written by Keras {version ?? "of unknown version"}) was never built before it was saved: its config declares no input shape " +
            "(no InputLayer, batch_input_shape, input_shape or build_input_shape), so it cannot be built. Keras loads it unbuilt; here read its layers with " +
            "KerasH5.LoadLayers(path) and declare the input: new Sequential([new Input(...), ..layers]).", e);

    // ---- Keras 1 configs ---------------------------------------------------------------------------------------------

    // Keras 2's legacy interfaces, per class: Keras 1 argument → Keras 2 argument.
    private static readonly (string Old, string New)[] DenseArgs =
        [("output_dim", "units"), ("init", "kernel_initializer"), ("W_regularizer", "kernel_regularizer"), ("b_regularizer", "bias_regularizer"),
         ("W_constraint", "kernel_constraint"), ("b_constraint", "bias_constraint"), ("bias", "use_bias")];

    private static readonly (string Old, string New)[] RecurrentArgs =
        [("output_dim", "units"), ("init", "kernel_initializer"), ("inner_init", "recurrent_initializer"), ("inner_activation", "recurrent_activation"),
         ("W_regularizer", "kernel_regularizer"), ("b_regularizer", "bias_regularizer"), ("U_regularizer", "recurrent_regularizer"),
         ("dropout_W", "dropout"), ("dropout_U", "recurrent_dropout"), ("consume_less", "implementation")];

    private static readonly (string Old, string New)[] ConvArgs =
        [("nb_filter", "filters"), ("subsample", "strides"), ("border_mode", "padding"), ("dim_ordering", "data_format"), ("init", "kernel_initializer"),
         ("W_regularizer", "kernel_regularizer"), ("b_regularizer", "bias_regularizer"), ("W_constraint", "kernel_constraint"),
         ("b_constraint", "bias_constraint"), ("bias", "use_bias")];

    private static readonly (string Old, string New)[] Conv1DArgs =
        [("nb_filter", "filters"), ("filter_length", "kernel_size"), ("subsample_length", "strides"), ("border_mode", "padding"),
         ("init", "kernel_initializer"), ("W_regularizer", "kernel_regularizer"), ("b_regularizer", "bias_regularizer"),
         ("W_constraint", "kernel_constraint"), ("b_constraint", "bias_constraint"), ("bias", "use_bias")];

    private static readonly Dictionary<string, (string Old, string New)[]> Keras1Args = new(StringComparer.Ordinal)
    {
        ["Dense"] = DenseArgs,
        ["Dropout"] = [("p", "rate")],
        ["SpatialDropout1D"] = [("p", "rate")],
        ["SpatialDropout2D"] = [("p", "rate"), ("dim_ordering", "data_format")],
        ["SpatialDropout3D"] = [("p", "rate"), ("dim_ordering", "data_format")],
        ["GaussianDropout"] = [("p", "rate")],
        ["GaussianNoise"] = [("sigma", "stddev")],
        ["Embedding"] = [("init", "embeddings_initializer"), ("W_regularizer", "embeddings_regularizer"), ("W_constraint", "embeddings_constraint")],
        ["PReLU"] = [("init", "alpha_initializer")],
        ["SimpleRNN"] = RecurrentArgs, ["LSTM"] = RecurrentArgs, ["GRU"] = RecurrentArgs,
        ["Conv1D"] = Conv1DArgs,
        ["Conv2D"] = ConvArgs, ["Conv3D"] = ConvArgs, ["Conv2DTranspose"] = ConvArgs,
        ["SeparableConv2D"] = [("nb_filter", "filters"), ("subsample", "strides"), ("border_mode", "padding"), ("dim_ordering", "data_format"),
                               ("b_regularizer", "bias_regularizer"), ("b_constraint", "bias_constraint"), ("bias", "use_bias")],
        ["MaxPooling1D"] = [("pool_length", "pool_size"), ("stride", "strides"), ("border_mode", "padding")],
        ["AveragePooling1D"] = [("pool_length", "pool_size"), ("stride", "strides"), ("border_mode", "padding")],
        ["MaxPooling2D"] = [("border_mode", "padding"), ("dim_ordering", "data_format")],
        ["AveragePooling2D"] = [("border_mode", "padding"), ("dim_ordering", "data_format")],
        ["MaxPooling3D"] = [("border_mode", "padding"), ("dim_ordering", "data_format")],
        ["AveragePooling3D"] = [("border_mode", "padding"), ("dim_ordering", "data_format")],
        ["GlobalMaxPooling2D"] = [("dim_ordering", "data_format")], ["GlobalAveragePooling2D"] = [("dim_ordering", "data_format")],
        ["GlobalMaxPooling3D"] = [("dim_ordering", "data_format")], ["GlobalAveragePooling3D"] = [("dim_ordering", "data_format")],
        ["UpSampling1D"] = [("length", "size")],
        ["UpSampling2D"] = [("dim_ordering", "data_format")], ["UpSampling3D"] = [("dim_ordering", "data_format")],
        ["ZeroPadding2D"] = [("dim_ordering", "data_format")], ["ZeroPadding3D"] = [("dim_ordering", "data_format")],
        ["Cropping2D"] = [("dim_ordering", "data_format")], ["Cropping3D"] = [("dim_ordering", "data_format")],
        ["BatchNormalization"] = [("beta_init", "beta_initializer"), ("gamma_init", "gamma_initializer")],
        ["InputLayer"] = [("input_dtype", "dtype")],
    };

    // Keras 1 class names Keras 2 renamed.
    private static readonly Dictionary<string, string> Keras1Classes = new(StringComparer.Ordinal)
    {
        ["Convolution1D"] = "Conv1D", ["Convolution2D"] = "Conv2D", ["Convolution3D"] = "Conv3D",
        ["AtrousConvolution1D"] = "Conv1D", ["AtrousConvolution2D"] = "Conv2D",
        ["Deconvolution2D"] = "Conv2DTranspose", ["SeparableConvolution2D"] = "SeparableConv2D",
    };

    // A model config's layer list: Keras 1's Sequential config is the list itself, later ones hold it under "layers".
    private static JsonArray? LayersOf(JsonObject model) => model["config"] switch
    {
        JsonArray a => a,
        JsonObject c => c["layers"] as JsonArray,
        _ => null,
    };

    // Keras 1's config said as Keras 2's legacy interfaces said it, layer by layer (nested models and wrapped layers too).
    private static string FromKeras1(string config, string path)
    {
        var root = JsonNode.Parse(config, documentOptions: new() { MaxDepth = MaxConfigDepth });
        void Model(JsonNode? node)
        {
            if (node is not JsonObject o || LayersOf(o) is not { } layers) return;
            foreach (var entry in layers) Layer(entry);
        }
        void Layer(JsonNode? entry)
        {
            if (entry is not JsonObject e || e["class_name"] is not JsonValue cls) return;
            var className = cls.ToString();
            if (className is "Sequential" or "Model" or "Functional") { Model(e); return; }
            if (className == "Merge")
                throw FileError(path, $"layer '{(e["config"] as JsonObject)?["name"]}'",
                    $"{path}: layer '{(e["config"] as JsonObject)?["name"]}' is a Keras 1 Merge layer, which Keras 2 removed (its mode may be a Python function); declare the model with Add, Concatenate, … in code.");
            if (Keras1Classes.TryGetValue(className, out var renamed)) e["class_name"] = className = renamed;
            if (e["config"] is not JsonObject c) return;
            if (c["layer"] is JsonObject inner) Layer(inner);   // TimeDistributed, Bidirectional
            Keras1Layer(className, c, path);
        }
        Model(root);
        return root!.ToJsonString();
    }

    private static void Keras1Layer(string className, JsonObject c, string path)
    {
        var name = c["name"]?.ToString() ?? "?";
        string? Text(string key) => c[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        void Move(string from, string to)
        {
            if (!c.ContainsKey(from)) return;
            if (c.ContainsKey(to))
                throw FileError(path, $"layer '{name}'",
                    $"{path}: layer '{name}' ({className}) gives both the Keras 1 argument '{from}' and the Keras 2 argument '{to}'.");
            var value = c[from];
            c.Remove(from);
            c[to] = value;
        }
        // The first layer of a Keras 1 model names its input dtype so.
        Move("input_dtype", "dtype");
        // Keras 2's preprocessors, before the renames.
        if (className is "LSTM" or "GRU" or "SimpleRNN")
        {
            if (c.ContainsKey("forget_bias_init"))
            {
                var one = Text("forget_bias_init") == "one";
                c.Remove("forget_bias_init");
                if (className == "LSTM") c["unit_forget_bias"] = one;
            }
            if (Text("consume_less") is { } consume)
                c["consume_less"] = consume switch { "cpu" => 0, "mem" => 1, "gpu" => 2, _ => c["consume_less"]?.DeepClone() };
            // Keras 1's GRU applies the reset gate before the recurrent kernel (Keras 2's reset_after=False).
            if (className == "GRU" && !c.ContainsKey("reset_after")) c["reset_after"] = false;
        }
        if (className is "LSTM" or "GRU" or "SimpleRNN" or "Conv1D" && c.ContainsKey("input_dim"))
        {
            var length = c["input_length"]?.DeepClone();
            var dim = c["input_dim"]?.DeepClone();
            c.Remove("input_dim");
            c.Remove("input_length");
            if (!c.ContainsKey("batch_input_shape") && !c.ContainsKey("input_shape")) c["input_shape"] = new JsonArray(length, dim);
        }
        if (className is "Conv2D" or "SeparableConv2D" or "Conv2DTranspose" && c.ContainsKey("nb_row") && c.ContainsKey("nb_col"))
        {
            c["kernel_size"] = new JsonArray(c["nb_row"]!.DeepClone(), c["nb_col"]!.DeepClone());
            c.Remove("nb_row");
            c.Remove("nb_col");
        }
        if (className == "Conv3D" && c.ContainsKey("kernel_dim1"))
        {
            c["kernel_size"] = new JsonArray(c["kernel_dim1"]?.DeepClone(), c["kernel_dim2"]?.DeepClone(), c["kernel_dim3"]?.DeepClone());
            c.Remove("kernel_dim1"); c.Remove("kernel_dim2"); c.Remove("kernel_dim3");
        }
        if (className is "Conv1D" or "Conv2D" && c.ContainsKey("atrous_rate")) Move("atrous_rate", "dilation_rate");
        if (className == "Conv2DTranspose") c.Remove("output_shape");
        if (className == "SeparableConv2D" && c.ContainsKey("init"))
        {
            var init = c["init"];
            c.Remove("init");
            c["depthwise_initializer"] = init?.DeepClone();
            c["pointwise_initializer"] = init?.DeepClone();
        }
        if (className == "Embedding" && c.ContainsKey("dropout")) c.Remove("dropout");   // Keras 2 dropped it, warning
        if (className == "BatchNormalization" && c.ContainsKey("mode"))
        {
            if (c["mode"] is JsonValue m && m.TryGetValue<int>(out var mode) && mode != 0)
                throw FileError(path, $"layer '{name}'",
                    $"{path}: layer '{name}' is a Keras 1 BatchNormalization with mode={mode}, which Keras 2 removed ('mode=1 and mode=2 are no longer supported').");
            c.Remove("mode");
        }
        if (className == "ZeroPadding2D" && c["padding"] is JsonObject pad)
            c["padding"] = new JsonArray(new JsonArray(Pad("top_pad"), Pad("bottom_pad")), new JsonArray(Pad("left_pad"), Pad("right_pad")));
        JsonNode Pad(string key) => ((JsonObject)c["padding"]!)[key]?.DeepClone() ?? JsonValue.Create(0);
        if (Keras1Args.TryGetValue(className, out var args))
            foreach (var (from, to) in args) Move(from, to);
        if (c["data_format"] is JsonValue df && df.TryGetValue<string>(out var ordering))
        {
            if (ordering == "tf") c["data_format"] = "channels_last";
            else if (ordering == "th") c["data_format"] = "channels_first";
            else if (ordering == "default") c.Remove("data_format");
        }
    }

    // ---- Keras 1 weights ---------------------------------------------------------------------------------------------

    // Keras 1 kept each gate of a recurrent layer in its own arrays: LSTM as W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f,
    // W_o, U_o, b_o; GRU as W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h. tf.keras's preprocess_weights_for_loading joins them
    // by position into Keras 2's kernel, recurrent_kernel and bias, gates in Keras 2's order (LSTM i, f, c, o; GRU z, r, h).
    // Null when the layer is not such a case.
    private static List<StoredTensor>? Keras1Recurrent(BuiltNetwork network, string modelLayer, IH5Group group, string[] weightNames,
        List<(string Name, Tensor Tensor, bool Dispose)> weights, string path, string fileLayer)
    {
        var layer = network.BuiltLayers.FirstOrDefault(b => (b.Layer.Name ?? b.Layer.DefaultNameStem) == modelLayer)?.Layer;
        int[]? order = (layer, weightNames.Length) switch
        {
            (LSTM, 12) => [0, 6, 3, 9],
            (GRU, 9) => [0, 3, 6],
            _ => null,
        };
        if (order is null || weights.Count != 3) return null;
        var stored = new List<StoredTensor>();
        try
        {
            foreach (var (suffix, offset) in new[] { ("/kernel", 0), ("/recurrent_kernel", 1), ("/bias", 2) })
            {
                var target = weights.FirstOrDefault(w => w.Name.EndsWith(suffix, StringComparison.Ordinal));
                if (target.Tensor is null) return null;
                var shape = target.Tensor.shape;
                var gateShape = shape.ToArray();
                gateShape[^1] /= order.Length;
                var parts = new List<Tensor>();
                try
                {
                    foreach (var i in order)
                    {
                        var name = weightNames[i + offset];
                        var dataset = Dataset(group, name, path, fileLayer);
                        var dims = dataset.Space.Dimensions.Select(d => (long)d).ToArray();
                        if (!dims.SequenceEqual(gateShape))
                            throw FileError(path, $"{fileLayer}/{name}",
                                $"{path}: Keras 1 array '{fileLayer}/{name}' is {Shape(dims)}, but one gate of weight '{target.Name}' {Shape(shape)} in the model is {Shape(gateShape)}.");
                        parts.Add(Read(dataset, dims, path, $"{fileLayer}/{name}"));
                    }
                    stored.Add(new StoredTensor(target.Name, "F32", shape, torch.cat(parts, -1)));
                }
                finally
                {
                    foreach (var p in parts) p.Dispose();
                }
            }
            return stored;
        }
        catch
        {
            foreach (var s in stored) s.Value.Dispose();
            throw;
        }
    }

    // Who wrote a weights group: Keras 2's load_weights_from_hdf5_group takes a group without keras_version as Keras 1's,
    // and reads the backend from the same place.
    private readonly record struct WeightsOrigin(bool Keras1, string? Backend);

    private static WeightsOrigin Origin(IH5Group file, IH5Group group, string path)
    {
        var version = StringAttribute(group, "keras_version", path) ?? StringAttribute(file, "keras_version", path);
        var backend = StringAttribute(group, "backend", path) ?? StringAttribute(file, "backend", path);
        return new(version is null || IsKeras1(version), backend);
    }

    // A dataset read for a model weight, converting convolution kernels as tf.keras's preprocess_weights_for_loading does:
    // Keras 1's Conv1D kernel (k, 1, in, filters), or Keras 1.1's (filters, in, k, 1), becomes (k, in, filters); Keras 1's
    // channels-first Conv2D kernel (filters, in, kh, kw) becomes (kh, kw, in, filters); and a kernel written with the Theano
    // backend (which convolves, where TensorFlow and torch correlate) is flipped along its spatial axes. Anything else is
    // read as it is.
    private static (StoredTensor? Value, string? Mismatch) ReadKernelAware(BuiltNetwork network, string modelLayer, WeightsOrigin origin,
        (string Name, Tensor Tensor, bool Dispose) target, IH5Dataset dataset, string path, string name)
    {
        var layer = network.BuiltLayers.FirstOrDefault(b => (b.Layer.Name ?? b.Layer.DefaultNameStem) == modelLayer)?.Layer;
        var isKernel = target.Name.EndsWith("/kernel", StringComparison.Ordinal) && layer is Conv or ConvTranspose;
        if (!isKernel) return ReadFor(target, dataset, path, name);
        var dims = dataset.Space.Dimensions.Select(d => (long)d).ToArray();
        var shape = target.Tensor.shape;
        Func<Tensor, Tensor>? convert = null;
        if (origin.Keras1 && dims.Length == 4 && !dims.SequenceEqual(shape))
        {
            if (layer is Conv1D && dims[1] == 1 && new[] { dims[0], dims[2], dims[3] }.SequenceEqual(shape))
                convert = t => t.squeeze(1);
            else if (layer is Conv1D && dims[3] == 1 && new[] { dims[2], dims[1], dims[0] }.SequenceEqual(shape))
                convert = t => t.permute(2, 3, 1, 0).squeeze(1);
            else if (layer is Conv2D && new[] { dims[2], dims[3], dims[1], dims[0] }.SequenceEqual(shape))
                convert = t => t.permute(2, 3, 1, 0);
        }
        var theano = string.Equals(origin.Backend, "theano", StringComparison.Ordinal);
        if (convert is null && !theano) return ReadFor(target, dataset, path, name);
        if (convert is null && !dims.SequenceEqual(shape))
            return (null, $"weight '{target.Name}' has shape {Shape(shape)} in the model, but '{name}' in the file is {Shape(dims)}");
        CheckDatasetSize(dataset, dims, path, name, fileLength);
        using var scope = NewDisposeScope();
        var value = Read(dataset, dims, path, name);
        if (convert is not null) value = convert(value);
        if (theano) value = value.flip(Enumerable.Range(0, (int)value.dim() - 2).Select(i => (long)i).ToArray());
        return (new StoredTensor(target.Name, "F32", shape, value.contiguous().MoveToOuterDisposeScope()), null);
    }

    // ---- Attributes split over name0, name1, … ------------------------------------------------------------------------

    // Keras's save_attributes_to_hdf5_group splits a list attribute longer than HDF5's 64 KB object-header limit into
    // chunks name0, name1, …; load_attributes_from_hdf5_group joins them. Null when there is neither form.
    private static string[]? ChunkedStrings(IH5Object obj, string name, string path)
    {
        if (!obj.AttributeExists(name + "0")) return null;
        var all = new List<string>();
        for (var i = 0; obj.AttributeExists(name + i.ToString(System.Globalization.CultureInfo.InvariantCulture)); i++)
        {
            var part = StringsAttribute(obj, name + i.ToString(System.Globalization.CultureInfo.InvariantCulture), path) ?? [];
            all.AddRange(part);
        }
        return [.. all];
    }
}
