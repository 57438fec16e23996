using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Training;

/// <summary>
/// Keras's one-file models: <c>model.save("m.keras")</c> and <c>keras.models.load_model</c> for built and compiled
/// networks, in Keras 3's <c>.keras</c> format (see <see cref="KerasH5"/> for reading Keras's files and the layout).
/// </summary>
public static class ModelFile
{
    /// <summary>
    /// Keras's <c>model.save("m.keras")</c>: one file holding the architecture (<c>config.json</c>), every weight
    /// (<c>model.weights.h5</c> in saving_lib's layout) and, when the network is compiled, its compile config (optimizer
    /// with its hyper-parameters, loss, metrics) and the optimizer's state, so that Keras 3 and <see cref="Load"/> read it
    /// back. The file is written next to <paramref name="path"/> and then moved over it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> does not end in <c>.keras</c> (as Keras requires).</exception>
    /// <exception cref="NotSupportedException">Something the model holds has no .keras form here (named).</exception>
    public static void Save(this BuiltNetwork network, string path) => SaveArchive(network, network?.Compiled as CompiledModel, path);

    /// <summary>
    /// Keras's <c>keras.models.load_model</c>: a <c>.keras</c> archive (Keras 3's or one <see cref="Save"/> wrote) or a
    /// legacy HDF5 model file, built on <paramref name="device"/> with its weights. With <paramref name="compile"/>, an
    /// archive's compile config compiles the network (<see cref="TrainingExtensions.GetCompiled"/>) and its optimizer
    /// state is restored, so <c>Fit</c> continues where the saved model stopped.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a Keras model file, corrupt, or not matching its own config (named).</exception>
    public static BuiltNetwork Load(string path, Device? device = null, bool compile = true) => LoadArchive(path, device, compile);

    internal static void SaveArchive(BuiltNetwork network, CompiledModel? compiled, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!path.EndsWith(".keras", StringComparison.Ordinal))
            throw new ArgumentException($"Invalid `filepath` argument: expected a `.keras` extension. Received: filepath={path}", nameof(path));
        var config = ModelConfig.Serialize(network.Declaration);
        config["build_config"] = new JsonObject
        {
            // Keras: a Sequential records its input shape; a Functional model is built by its constructor (null).
            ["input_shape"] = network.Declaration is Sequential s
                ? new JsonArray([null, .. s.Input.Shape.ToKnownArray().Select(d => (JsonNode?)JsonValue.Create(d))])
                : null,
        };
        if (compiled is not null) config["compile_config"] = KerasCompileConfig.Serialize(compiled);
        using var weights = new MemoryStream();
        using (network.ReadLease())   // a consistent set: no step or load runs meanwhile
        {
            var state = WeightLoading.State(network).ToList();
            try
            {
                var byName = state.ToDictionary(s => s.Name, s => s.Tensor, StringComparer.Ordinal);
                // Keras's Dense/EinsumDense.save_own_variables write the kernel with the LoRA product merged in and no
                // adapters; a file with them as extra variables would not load in Keras.
                if (byName.Keys.FirstOrDefault(n => n.EndsWith("/lora_kernel_a", StringComparison.Ordinal)) is { } lora)
                    throw new NotSupportedException(
                        $"Model '{network.Declaration.Name}': '{lora}' is a LoRA adapter; Keras saves LoRA layers with the adapters merged into the kernel, " +
                        "which this library does not do yet. Save the weights (SaveWeights) instead.");
                var (objects, order) = KerasLayout.Walk(network.Declaration, state.Select(s => s.Name).ToList());
                var file = new H5File();
                foreach (var o in objects)
                {
                    var vars = KerasWeightsWriter.Vars(file, o.VarsPath, o.Name);
                    for (var i = 0; i < o.Variables.Count; i++)
                        vars[KerasH5.Index(i)] = KerasWeightsWriter.Dataset(byName[o.Variables[i]]);
                }
                if (compiled is not null) WriteOptimizer(file, compiled, order);
                file.Write(weights);
            }
            finally
            {
                WeightLoading.Release(state);
            }
        }

        KerasH5.WriteArchive(path, config, weights.ToArray());
    }

    // optimizer/vars: Optimizer.save_own_variables writes self.variables as 0, 1, … (see KerasOptimizerState).
    private static void WriteOptimizer(H5File file, CompiledModel compiled, IReadOnlyList<string> kerasOrder)
    {
        var optimizer = compiled.Optimizer;
        var vars = KerasWeightsWriter.Vars(file, "optimizer/vars", optimizer.Name);
        var entries = KerasOptimizerState.Entries(compiled, kerasOrder);
        var floatType = compiled.TrainableWeights.Count > 0 ? compiled.TrainableWeights[0].Parameter.dtype : ScalarType.Float32;
        for (var i = 0; i < entries.Count; i++)
        {
            vars[KerasH5.Index(i)] = entries[i] switch
            {
                KerasOptimizerState.IterationsEntry => KerasWeightsWriter.Scalar(optimizer.Iterations),
                // Keras's learning_rate variable is float32 (floatx); the exact value is in the compile config.
                KerasOptimizerState.LearningRateEntry => KerasWeightsWriter.Scalar((float)optimizer.LearningRate),
                KerasOptimizerState.SlotEntry slot => SlotDataset(compiled, slot),
                // Nadam's u_product is a variable of the model variables' dtype.
                KerasOptimizerState.ScalarEntry scalar => floatType == ScalarType.Float64
                    ? KerasWeightsWriter.Scalar(optimizer.ScalarState[scalar.Key])
                    : KerasWeightsWriter.Scalar((float)optimizer.ScalarState[scalar.Key]),
                _ => throw new InvalidOperationException(entries[i].What),
            };
        }
    }

    private static H5Dataset SlotDataset(CompiledModel compiled, KerasOptimizerState.SlotEntry slot)
    {
        using var view = KerasOptimizerState.KerasSlot(compiled, slot);
        return KerasWeightsWriter.Dataset(view);
    }

    internal static BuiltNetwork LoadArchive(string path, Device? device, bool compile)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No such file: {path}", path);
        if (!KerasH5.IsZip(path)) return KerasH5.LoadModel(path, device);   // a legacy HDF5 model (its training_config is not read)
        var compileConfig = compile ? KerasH5.ReadArchiveConfig(path)["compile_config"] as JsonObject : null;
        var network = KerasH5.LoadModel(path, device);
        try
        {
            if (compileConfig is { Count: > 0 })
            {
                var compiled = KerasCompileConfig.Compile(network, compileConfig, path);
                using var source = KerasH5.OpenArchiveSource(path);
                RestoreOptimizer(compiled, source, path, compileConfig);
            }
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    // The optimizer's variables from optimizer/vars (Keras's order, see KerasOptimizerState): all checked, then applied.
    private static void RestoreOptimizer(CompiledModel compiled, KerasWeightsSource source, string path, JsonObject compileConfig)
    {
        var vars = source.Group("optimizer/vars");
        if (vars is null) return;   // saved before the optimizer existed
        var optimizer = compiled.Optimizer;
        var network = compiled.Network;
        var state = WeightLoading.State(network).ToList();
        List<string> order;
        try
        {
            order = KerasLayout.Walk(network.Declaration, state.Select(s => s.Name).ToList()).Order;
        }
        finally
        {
            WeightLoading.Release(state);
        }
        var entries = KerasOptimizerState.Entries(compiled, order);
        var count = vars.Children().OfType<IH5Dataset>().Count();
        // Keras's optimizer holds only iteration and learning_rate until its first step builds the rest.
        if (count == 2 && entries.Count > 2 && optimizer.Schedule is null) entries = entries.Take(2).ToList();
        if (count != entries.Count)
            throw new InvalidDataException(
                $"{path}: optimizer/vars holds {count} variable(s), but {optimizer.ClassName} '{optimizer.Name}' for this model has {entries.Count} " +
                $"({string.Join(", ", entries.Select(e => e.What))}); load with compile: false to skip the optimizer.");
        long? iterations = null;
        double? rate = null;
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        var slots = new List<(Tensor Target, StoredTensor Value)>();
        var views = new List<Tensor>();
        try
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var name = $"optimizer/vars/{i}";
                if (!vars.LinkExists(KerasH5.Index(i))) throw new InvalidDataException($"{path}: optimizer/vars has no dataset '{i}'.");
                var dataset = vars.Dataset(KerasH5.Index(i));
                switch (entries[i])
                {
                    case KerasOptimizerState.IterationsEntry:
                        iterations = (long)KerasH5.Number(dataset, path, name, integer: true);
                        if (iterations < 0) throw new InvalidDataException($"{path}: {name} (iteration) is {iterations}, not a count.");
                        break;
                    case KerasOptimizerState.LearningRateEntry:
                        rate = KerasH5.Number(dataset, path, name, integer: false);
                        if (!double.IsFinite(rate.Value) || rate < 0) throw new InvalidDataException($"{path}: {name} (learning_rate) is {rate}, not a non-negative number.");
                        break;
                    case KerasOptimizerState.ScalarEntry scalar:
                        scalars[scalar.Key] = KerasH5.Number(dataset, path, name, integer: false);
                        break;
                    case KerasOptimizerState.SlotEntry slot:
                        var target = KerasOptimizerState.KerasSlot(compiled, slot);
                        views.Add(target);
                        var (value, mismatch) = KerasH5.ReadChecked(($"{slot.Weight}/{slot.Slot}", target, false), dataset, path, name);
                        slots.Add((target, value ?? throw new InvalidDataException($"{path}: optimizer state {mismatch}.")));
                        break;
                }
            }
            using var writing = network.WriteLease();
            using (no_grad())
                foreach (var (target, value) in slots)
                    target.copy_(value.Value);
            if (iterations is { } n) optimizer.Iterations = n;
            if (rate is { } r && optimizer.Schedule is null)
            {
                // The float32 variable, unless the config's exact rate rounds to it (a file this library wrote).
                var configured = compileConfig["optimizer"]?["config"]?["learning_rate"] is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN;
                optimizer.LearningRate = (float)configured == (float)r ? configured : r;
            }
            if (scalars.Count > 0) optimizer.RestoreScalarState(scalars);
        }
        finally
        {
            foreach (var (_, value) in slots) value.Value.Dispose();
            foreach (var view in views) view.Dispose();
        }
    }

}

public sealed partial class CompiledModel
{
    /// <summary>Keras's <c>model.save("m.keras")</c> for this compiled model: architecture, weights, compile config and optimizer state.</summary>
    public void Save(string path) => ModelFile.SaveArchive(Network, this, path);

    // The metrics with the output each belongs to (for the compile config).
    internal IReadOnlyList<(int Output, Metric Metric)> MetricsByOutput => metrics;
}

/// <summary>
/// Keras's optimizer variables in the order <c>Optimizer.save_own_variables</c> writes them
/// (keras/src/optimizers/base_optimizer.py): <c>iteration</c> (int64), <c>learning_rate</c> (float32; absent when it is a
/// schedule), then what the optimizer's <c>build</c> creates. <c>add_optimizer_variables(var_list, [a, b])</c> creates the
/// kinds of one call interleaved per model variable (<c>m0, v0, m1, v1, …</c>; keras-team/keras#21247 restored that
/// order), and separate calls follow one another (Adam's <c>velocity_hat</c>, RMSprop's <c>momentum</c> and
/// <c>average_gradient</c>); Nadam's <c>u_product</c> comes last.
/// </summary>
internal static class KerasOptimizerState
{
    internal abstract record Entry(string What);
    internal sealed record IterationsEntry() : Entry("iteration");
    internal sealed record LearningRateEntry() : Entry("learning_rate");
    internal sealed record SlotEntry(string Slot, int Index, string Weight) : Entry($"{Slot} of '{Weight}'");
    internal sealed record ScalarEntry(string Key) : Entry(Key);

    // The calls of each optimizer's build, each a list of kinds created interleaved.
    private static IReadOnlyList<IReadOnlyList<string>> Builds(Optimizer optimizer) => optimizer switch
    {
        Adam a => a.Amsgrad ? [["momentum", "velocity"], ["velocity_hat"]] : [["momentum", "velocity"]],
        SGD s => s.Momentum != 0 ? [["momentum"]] : [],
        RMSprop r => [["velocity"], .. (r.Momentum > 0 ? new[] { new[] { "momentum" } } : []), .. (r.Centered ? new[] { new[] { "average_gradient" } } : [])],
        Adagrad => [["accumulator"]],
        Adadelta => [["accumulated_grad", "accumulated_delta_var"]],
        Adamax => [["momentum", "norm"]],
        Nadam => [["momentum", "velocity"]],
        _ => throw new NotSupportedException(
            $"The state of a {optimizer.ClassName} optimizer has no known .keras layout (known: SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam)."),
    };

    /// <summary>A slot in Keras's layout (a view of the optimizer's tensor, permuted as its weight is; dispose it).</summary>
    public static Tensor KerasSlot(CompiledModel compiled, SlotEntry slot)
    {
        var tensor = compiled.Optimizer.Slot(slot.Slot, slot.Index);
        return compiled.TrainableWeights[slot.Index].KerasPermutation is { } permutation ? tensor.permute(permutation) : tensor.alias();
    }

    /// <summary>The entries of <c>optimizer/vars</c>; <paramref name="kerasOrder"/> is the model's trainable weights in Keras's order.</summary>
    public static List<Entry> Entries(CompiledModel compiled, IReadOnlyList<string> kerasOrder)
    {
        var optimizer = compiled.Optimizer;
        var index = compiled.TrainableWeights.Select((w, i) => (w.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        var trainable = kerasOrder.Where(index.ContainsKey).ToList();
        var entries = new List<Entry> { new IterationsEntry() };
        if (optimizer.Schedule is null) entries.Add(new LearningRateEntry());
        foreach (var build in Builds(optimizer))
        {
            if (build.Any(slot => !optimizer.SlotNames.Contains(slot)))
                throw new InvalidOperationException($"{optimizer.ClassName} holds no '{string.Join("/", build)}' state.");
            foreach (var weight in trainable)
                foreach (var slot in build)
                    entries.Add(new SlotEntry(slot, index[weight], weight));
        }
        foreach (var key in optimizer.ScalarState.Keys.Order(StringComparer.Ordinal)) entries.Add(new ScalarEntry(key));
        return entries;
    }
}

/// <summary>
/// Keras's <c>compile_config</c> (<c>Trainer.get_compile_config</c>): the optimizer, loss, loss weights and metrics as
/// <c>serialize_keras_object</c> writes them — strings for names, <c>{"module", "class_name", "config",
/// "registered_name"}</c> objects for instances — and back. Reading builds only this library's own optimizer, loss and
/// metric classes, matched by Keras class name and constructor arguments; nothing named in a file is executed.
/// </summary>
internal static class KerasCompileConfig
{
    public static JsonObject Serialize(CompiledModel compiled)
    {
        var outputs = compiled.Losses.Count;
        var metrics = compiled.MetricsByOutput;
        JsonNode? MetricList(IEnumerable<Metric> ms) => new JsonArray([.. ms.Select(Metric)]);
        return new JsonObject
        {
            ["optimizer"] = Optimizer(compiled.Optimizer),
            ["loss"] = outputs == 1 ? Loss(compiled.Losses[0]) : new JsonArray([.. compiled.Losses.Select(Loss)]),
            ["loss_weights"] = compiled.LossWeights.All(w => w == 1.0) ? null : new JsonArray([.. compiled.LossWeights.Select(w => (JsonNode?)JsonValue.Create(w))]),
            ["metrics"] = metrics.Count == 0 ? null
                : outputs == 1 ? MetricList(metrics.Select(m => m.Metric))
                : new JsonArray([.. Enumerable.Range(0, outputs).Select(o => MetricList(metrics.Where(m => m.Output == o).Select(m => m.Metric)))]),
            ["weighted_metrics"] = null,
            ["run_eagerly"] = false,
            ["steps_per_execution"] = 1,
            ["jit_compile"] = false,
        };
    }

    private static JsonNode Optimizer(Optimizer optimizer)
    {
        if (optimizer is LossScaleOptimizer)
            throw new NotSupportedException("A LossScaleOptimizer (mixed_float16 training) cannot be written to a .keras file yet; save the weights, or compile with float32.");
        if (optimizer.Schedule is not null)
            throw new NotSupportedException($"{optimizer.ClassName}'s learning-rate schedule ({optimizer.Schedule.ClassName}) cannot be written to a .keras file yet.");
        var config = Config(optimizer, skip: "schedule");
        // Keras's base optimizer arguments this library does not have, at Keras's defaults.
        config["use_ema"] = false;
        config["ema_momentum"] = 0.99;
        config["ema_overwrite_frequency"] = null;
        config["loss_scale_factor"] = null;
        config["gradient_accumulation_steps"] = null;
        return Object("keras.optimizers", optimizer.ClassName, config);
    }

    private static JsonNode Loss(Loss loss) =>
        // A loss made from a function (Loss.FromFunction, or a Keras function name) is written by its name, as Keras does.
        loss.ClassName == "LossFunctionWrapper" ? JsonValue.Create(loss.Name)
            : Object("keras.losses", loss.ClassName, Config(loss, skip: null));

    private static JsonNode Metric(Metric metric)
    {
        // A metric that its name stands for (accuracy, sparse_categorical_accuracy, mse, …) is written as the name.
        try
        {
            if (Training.Metrics.Get(metric.Name).GetType() == metric.GetType()) return JsonValue.Create(metric.Name)!;
        }
        catch (ArgumentException)
        {
        }
        return Object("keras.metrics", metric.GetType().Name, Config(metric, skip: null));
    }

    private static JsonObject Object(string module, string className, JsonObject config) => new()
    {
        ["module"] = module,
        ["class_name"] = className,
        ["config"] = config,
        ["registered_name"] = null,
    };

    // The constructor's arguments read back from the object's properties, under Keras's names.
    private static JsonObject Config(object value, string? skip)
    {
        var type = value.GetType();
        var config = new JsonObject();
        foreach (var p in Constructor(type).GetParameters())
        {
            if (p.Name == skip) continue;
            var property = type.GetProperty(p.Name!, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null) continue;   // not readable back: Keras takes its default
            config[KerasKey(p.Name!)] = property.GetValue(value) switch
            {
                null => null,
                double d => JsonValue.Create(d),
                float f => JsonValue.Create((double)f),
                int i => JsonValue.Create(i),
                long l => JsonValue.Create(l),
                bool b => JsonValue.Create(b),
                string s => JsonValue.Create(s),
                Reduction r => JsonValue.Create(r.ToString()),
                var other => throw new NotSupportedException($"{type.Name}'s argument '{p.Name}' ({other.GetType().Name}) has no .keras form."),
            };
        }
        return config;
    }

    private static ConstructorInfo Constructor(Type type) =>
        type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();

    // learningRate → learning_rate, beta1 → beta_1, clipNorm → clipnorm (Keras's spellings).
    private static string KerasKey(string parameter)
    {
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < parameter.Length; i++)
        {
            var c = parameter[i];
            if (i > 0 && (char.IsUpper(c) || char.IsDigit(c) && !char.IsDigit(parameter[i - 1]))) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString() switch
        {
            "clip_norm" => "clipnorm",
            "clip_value" => "clipvalue",
            "global_clip_norm" => "global_clipnorm",
            var k => k,
        };
    }

    // ---- reading -------------------------------------------------------------------------------------------------

    /// <summary>Compiles <paramref name="network"/> as <paramref name="config"/> says (Keras's <c>compile_from_config</c>).</summary>
    public static CompiledModel Compile(BuiltNetwork network, JsonObject config, string path)
    {
        var outputs = network.Declaration.OutputShapes.Count;
        var optimizer = ReadOptimizer(config["optimizer"], path);
        var losses = ReadLosses(config["loss"], path);
        var metrics = ReadMetrics(config["metrics"], outputs, path);
        if (config["weighted_metrics"] is JsonArray { Count: > 0 })
            throw new InvalidDataException($"{path}: compile_config.weighted_metrics is not supported by this library's compile.");
        List<double>? lossWeights = config["loss_weights"] switch
        {
            null => null,
            JsonArray a => a.Select((w, i) => w is JsonValue v && v.TryGetValue<double>(out var d) ? d
                : throw new InvalidDataException($"{path}: compile_config.loss_weights[{i}] is {Describe(w)}, not a number.")).ToList(),
            JsonValue v when v.TryGetValue<double>(out var d) => [d],
            var other => throw new InvalidDataException($"{path}: compile_config.loss_weights is {Describe(other)}, not a list of numbers."),
        };
        try
        {
            return network.Compile(optimizer, losses, metrics, lossWeights);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: the compile config does not fit the model: {e.Message}", e);
        }
    }

    /// <summary>The optimizer of a compile config: a name (<c>"adam"</c>) or a serialized optimizer.</summary>
    internal static Optimizer ReadOptimizer(JsonNode? node, string path) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => Resolve(() => Optimizers.Get(s), path, "compile_config.optimizer"),
        JsonObject o => Create<Optimizer>(o, path, "compile_config.optimizer"),
        var other => throw new InvalidDataException($"{path}: compile_config.optimizer is {Describe(other)}, not an optimizer name or object."),
    };

    /// <summary>The losses of a compile config: one (a name or a serialized loss) or a list, one per output.</summary>
    internal static List<Loss> ReadLosses(JsonNode? node, string path)
    {
        Loss One(JsonNode? n, string where) => n switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => Resolve(() => Losses.Get(s), path, where),
            JsonObject o => Create<Loss>(o, path, where),
            _ => throw new InvalidDataException($"{path}: {where} is {Describe(n)}, not a loss name or object."),
        };
        return node switch
        {
            JsonArray a => a.Select((l, i) => One(l, $"compile_config.loss[{i}]")).ToList(),
            JsonObject o when !o.ContainsKey("class_name") => throw new InvalidDataException($"{path}: compile_config.loss is a dict by output name, which is not read yet; give one loss per output as a list."),
            _ => [One(node, "compile_config.loss")],
        };
    }

    /// <summary>The metrics of a compile config: a list (one output) or one list per output; none when null.</summary>
    internal static List<IReadOnlyList<Metric>> ReadMetrics(JsonNode? node, int outputs, string path)
    {
        Metric One(JsonNode? n, string where) => n switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => Resolve(() => Training.Metrics.Get(s), path, where),
            JsonObject o => Create<Metric>(o, path, where),
            _ => throw new InvalidDataException($"{path}: {where} is {Describe(n)}, not a metric name or object."),
        };
        return node switch
        {
            null => [[]],
            JsonArray a when a.Count > 0 && a.All(m => m is JsonArray) =>
                a.Select((list, o) => (IReadOnlyList<Metric>)((JsonArray)list!).Select((m, i) => One(m, $"compile_config.metrics[{o}][{i}]")).ToList()).ToList(),
            JsonArray a when outputs > 1 && a.Count > 0 => throw new InvalidDataException($"{path}: compile_config.metrics is one list for {outputs} outputs; metrics keep state per output, so give one list per output."),
            JsonArray a => [a.Select((m, i) => One(m, $"compile_config.metrics[{i}]")).ToList()],
            var other => throw new InvalidDataException($"{path}: compile_config.metrics is {Describe(other)}, which is not read (a list of metrics, or one list per output)."),
        };
    }

    private static T Resolve<T>(Func<T> make, string path, string where)
    {
        try
        {
            return make();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {where}: {e.Message}", e);
        }
    }

    private static string Describe(JsonNode? node) => node is null ? "null" : node.ToJsonString() is { Length: <= 80 } s ? s : node.GetValueKind().ToString();

    // Keras's base-class arguments this library does not have: accepted at the value that means "off".
    private static readonly Dictionary<string, Func<JsonNode?, bool>> Ignorable = new(StringComparer.Ordinal)
    {
        ["use_ema"] = n => n is null || n is JsonValue v && v.TryGetValue<bool>(out var b) && !b,
        ["ema_momentum"] = _ => true,               // used only with use_ema
        ["ema_overwrite_frequency"] = _ => true,    // used only with use_ema
        ["loss_scale_factor"] = n => n is null,
        ["gradient_accumulation_steps"] = n => n is null,
        ["dtype"] = _ => true,                      // a loss's or metric's compute dtype: the model's here
        ["decay"] = n => n is null || n is JsonValue v && v.TryGetValue<double>(out var d) && d == 0,
    };

    // One of this library's classes deriving from TBase, by its Keras class name, from the config's constructor arguments.
    private static TBase Create<TBase>(JsonObject o, string path, string where) where TBase : class
    {
        var className = o["class_name"] is JsonValue cn && cn.TryGetValue<string>(out var c) ? c
            : throw new InvalidDataException($"{path}: {where} has no class_name.");
        var type = typeof(TBase).Assembly.GetExportedTypes()
            .FirstOrDefault(t => !t.IsAbstract && typeof(TBase).IsAssignableFrom(t) && t.Name == className)
            ?? throw new InvalidDataException($"{path}: {where} is a {className}, which this library does not have (registered_name: {Describe(o["registered_name"])}).");
        var config = o["config"] as JsonObject ?? [];
        var ctor = Constructor(type);
        var parameters = ctor.GetParameters();
        var args = parameters.Select(p => p.HasDefaultValue ? p.DefaultValue : null).ToArray();
        foreach (var (key, value) in config)
        {
            var normal = key.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
            var index = Array.FindIndex(parameters, p => p.Name!.ToLowerInvariant() == normal);
            if (index < 0)
            {
                if (Ignorable.TryGetValue(key, out var ok) && ok(value)) continue;
                throw new InvalidDataException($"{path}: {where}: {className}'s config sets '{key}' = {Describe(value)}, which this library's {className} does not support.");
            }
            args[index] = Convert(value, parameters[index].ParameterType, path, $"{where}.config.{key}");
        }
        try
        {
            return (TBase)ctor.Invoke(args);
        }
        catch (TargetInvocationException e) when (e.InnerException is ArgumentException inner)
        {
            throw new InvalidDataException($"{path}: {where}: {inner.Message}", inner);
        }
    }

    private static object? Convert(JsonNode? node, Type type, string path, string where)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (node is null)
        {
            if (target == typeof(Reduction)) return Reduction.Parse(null);   // Keras's reduction=None: no reduction
            if (!type.IsValueType || Nullable.GetUnderlyingType(type) is not null) return null;
            throw new InvalidDataException($"{path}: {where} is null, but a {target.Name} is needed.");
        }
        if (node is JsonValue v)
        {
            if (target == typeof(double) && v.TryGetValue<double>(out var d)) return d;
            if (target == typeof(int) && v.TryGetValue<double>(out var di) && di == Math.Floor(di) && di is >= int.MinValue and <= int.MaxValue) return (int)di;
            if (target == typeof(long) && v.TryGetValue<long>(out var l)) return l;
            if (target == typeof(bool) && v.TryGetValue<bool>(out var b)) return b;
            if (target == typeof(string) && v.TryGetValue<string>(out var s)) return s;
            if (target == typeof(Reduction) && v.TryGetValue<string>(out var r))
            {
                try { return Reduction.Parse(r); }
                catch (ArgumentException e) { throw new InvalidDataException($"{path}: {where}: {e.Message}", e); }
            }
        }
        if (typeof(LearningRateSchedule).IsAssignableFrom(target) || node is JsonObject && target == typeof(double))
            throw new InvalidDataException($"{path}: {where} is {Describe(node)}: learning-rate schedules in a compile config are not read yet.");
        throw new InvalidDataException($"{path}: {where} is {Describe(node)}, not a {target.Name}.");
    }
}
