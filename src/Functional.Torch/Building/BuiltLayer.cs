using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>The layout a spatial layer with a Keras <c>data_format</c> computes in: a <c>channels_last</c> layer computes
/// channels-first (PyTorch's NCHW; the model permutes around runs of such layers), a <c>channels_first</c> one as declared.</summary>
public static class ComputeLayouts
{
    /// <summary><see cref="PhysicalLayout.ChannelsFirst"/> for <c>channels_last</c>, else <see cref="PhysicalLayout.Logical"/>.</summary>
    public static PhysicalLayout Of(DataFormat dataFormat) => dataFormat.IsChannelsLast ? PhysicalLayout.ChannelsFirst : PhysicalLayout.Logical;
}

/// <summary>Which memory layout a built layer computes in.</summary>
public enum PhysicalLayout
{
    /// <summary>Elementwise: works in whatever layout it is given.</summary>
    Any,
    /// <summary>Needs the tensor in the layout the Keras shape describes (e.g. Dense on the last axis, Flatten's order).</summary>
    Logical,
    /// <summary>A <c>channels_last</c> spatial layer that computes in PyTorch's channels-first layout (NCHW).</summary>
    ChannelsFirst,
}

/// <summary>
/// A layer record built into a TorchSharp module for one input shape. Weights are TorchSharp parameters; <see cref="Weights"/>
/// maps them to Keras's names (<c>kernel</c>, <c>bias</c>, …).
/// </summary>
public abstract class BuiltLayer : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module for a single-input <paramref name="layer"/> (which carries its resolved name).</summary>
    protected BuiltLayer(Layer layer, Shape inputShape) : this(layer, [inputShape]) { }

    /// <summary>Creates the module for a layer with several inputs (merge layers).</summary>
    protected BuiltLayer(Layer layer, IReadOnlyList<Shape> inputShapes) : base(layer.Name ?? layer.DefaultNameStem)
    {
        Layer = layer;
        InputShapes = inputShapes;
        OutputShape = layer.ComputeOutputShape(inputShapes);
        Policy = layer.Dtype;
    }

    /// <summary>The layer's dtype policy (its record's <see cref="Layer.Dtype"/>): its weights were created in the variable dtype.</summary>
    public DTypePolicy Policy { get; }

    // Set when the module is converted with `to(dtype)` (e.g. a float64 reference twin of a float32 model): the layer then
    // computes in that dtype, without autocast, whatever its policy says.
    private ScalarType? convertedTo;

    /// <summary>The dtype this layer computes in and returns: the policy's compute dtype, or the dtype the module was converted to.</summary>
    public ScalarType ComputeType => convertedTo ?? Policy.ComputeType();

    /// <summary>Whether calls run under libtorch's autocast (a mixed policy: float32 weights cast to the compute dtype in each op).</summary>
    public bool Autocasts => convertedTo is null && Policy.IsMixed;

    /// <summary>
    /// Whether the layer takes its inputs as they are (indices, as an embedding does — Keras's <c>autocast = False</c>): they
    /// are never cast, so floating indices are not rounded to a 16-bit compute dtype. Other layers get integer or bool inputs
    /// cast to their compute dtype, as a Keras backend op promotes them.
    /// </summary>
    protected virtual bool TakesIndices => false;

    internal void ConvertedTo(ScalarType dtype)
    {
        if (DTypes.IsFloating(dtype)) convertedTo = dtype;
    }

    /// <inheritdoc />
    protected override nn.Module _to(ScalarType dtype, bool non_blocking)
    {
        var result = base._to(dtype, non_blocking);
        ConvertedTo(dtype);
        return result;
    }

    /// <inheritdoc />
    protected override nn.Module _to(torch.Device device, ScalarType dtype, bool non_blocking)
    {
        var result = base._to(device, dtype, non_blocking);
        ConvertedTo(dtype);
        return result;
    }

    /// <summary>The record this module was built from.</summary>
    public Layer Layer { get; }

    /// <summary>The per-sample input shapes it was built for (one for most layers).</summary>
    public IReadOnlyList<Shape> InputShapes { get; }

    /// <summary>The (first) per-sample input shape it was built for.</summary>
    public Shape InputShape => InputShapes[0];

    /// <summary>The per-sample output shape (from the pure shape function).</summary>
    public Shape OutputShape { get; }

    /// <summary>Runs the layer on one tensor per input. Single-input layers call <c>forward</c>; merge layers override this.</summary>
    public virtual Tensor Forward(IReadOnlyList<Tensor> inputs) =>
        inputs.Count == 1
            ? call(inputs[0])
            : throw new ArgumentException($"{Layer.Describe()} takes one input; received {inputs.Count}.", nameof(inputs));

    /// <summary>
    /// Runs the layer for one call of the model (Keras's <c>layer(x, training=…)</c>): whether it trains is
    /// <paramref name="context"/>'s, never the module's mode. This is the one place dtype policies act, as Keras's
    /// <c>Layer.__call__</c> does: floating-point inputs (and integer ones, unless the layer <see cref="TakesIndices"/>) are
    /// cast to <see cref="ComputeType"/>; under a mixed policy the call runs inside libtorch's autocast, so each matrix
    /// product and convolution casts the float32 weights to the compute dtype (gradients flow back to them in float32);
    /// a floating-point output is returned in the compute dtype. A float32 layer given float32 inputs runs as it is.
    /// Layers that behave differently in training override <see cref="Call(IReadOnlyList{Tensor}, ForwardContext)"/>.
    /// </summary>
    public Tensor Forward(IReadOnlyList<Tensor> inputs, ForwardContext context) => Forward(inputs, [], context);

    /// <summary>
    /// Runs the layer for one call with its inputs' masks (Keras's <c>call(inputs, mask=…)</c>; a null entry, or none: that
    /// input has no mask). Masks are boolean, in the Keras layout, usually <c>(batch, steps)</c>. The dtype policy acts here
    /// as in <see cref="Forward(IReadOnlyList{Tensor}, ForwardContext)"/>; layers whose computation uses the mask
    /// (GlobalAveragePooling1D, Softmax, BatchNormalization) override
    /// <see cref="Call(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, ForwardContext)"/>.
    /// </summary>
    public Tensor Forward(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Layer.OutputCount == 1
            ? Seam(inputs, args => [Call(args, masks, context)])[0]
            : throw new InvalidOperationException($"{Layer.Describe()} returns {Layer.OutputCount} tensors; run it with ForwardAll.");

    /// <summary>
    /// Runs one call of a layer and returns every tensor it returns (Keras's list-returning <c>call</c>; one tensor for
    /// most layers), through the same dtype seam. A layer with several outputs overrides
    /// <see cref="CallAll"/>.
    /// </summary>
    public IReadOnlyList<Tensor> ForwardAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        Layer.OutputCount == 1 ? [Forward(inputs, masks, context)] : Seam(inputs, args => CallAll(args, masks, context));

    /// <summary>The computation of a layer with several outputs (<see cref="Layer.OutputCount"/> &gt; 1), on inputs in its
    /// compute dtype: one tensor per output, in order.</summary>
    /// <exception cref="NotSupportedException">The layer declares several outputs and its builder does not override this.</exception>
    protected virtual IReadOnlyList<Tensor> CallAll(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) =>
        throw new NotSupportedException($"{Layer.Describe()} declares {Layer.OutputCount} outputs, but its builder does not compute them (override CallAll).");

    /// <summary>The masks of a call's outputs (Keras's <c>compute_mask</c> for a list-returning layer): by default
    /// <see cref="ComputeMask"/> for a single output, and none for several.</summary>
    public virtual IReadOnlyList<Tensor?> ComputeMasks(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        Layer.OutputCount == 1 ? [ComputeMask(inputs, masks)] : new Tensor?[Layer.OutputCount];

    // The one place dtype policies act (see Forward): inputs cast to the compute dtype, the call under autocast for a mixed
    // policy, floating outputs returned in the compute dtype; casts made here are freed.
    private IReadOnlyList<Tensor> Seam(IReadOnlyList<Tensor> inputs, Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> call)
    {
        var compute = ComputeType;
        Tensor[]? cast = null;
        for (var i = 0; i < inputs.Count; i++)
        {
            var x = inputs[i];
            if (x is null) continue;
            var type = x.dtype;
            if (type == compute || TakesIndices || !DTypes.IsRealOrInteger(type)) continue;
            cast ??= [.. inputs];
            cast[i] = x.to_type(compute);
        }
        IReadOnlyList<Tensor> args = cast ?? inputs;
        IReadOnlyList<Tensor> ys;
        if (Autocasts && args.Count > 0)
        {
            using var autocast = Native.Autocast.Enter(args[0].device_type, true, compute);
            ys = call(args);
        }
        else ys = call(args);
        var outputs = ys.ToArray();
        for (var o = 0; o < outputs.Length; o++)
        {
            var y = outputs[o];
            if (y.dtype == compute || !DTypes.IsFloating(y.dtype)) continue;
            var z = y.to_type(compute);
            if (!inputs.Any(x => ReferenceEquals(x, y)) && (cast is null || !cast.Any(x => ReferenceEquals(x, y)))) y.Dispose();
            outputs[o] = z;
        }
        if (cast is not null)
            for (var i = 0; i < cast.Length; i++)
                if (!ReferenceEquals(cast[i], inputs[i]) && !outputs.Any(y => ReferenceEquals(cast[i], y))) cast[i].Dispose();
        return outputs;
    }

    /// <summary>
    /// The layer's computation for one call, on inputs already in its compute dtype (see
    /// <see cref="Forward(IReadOnlyList{Tensor}, ForwardContext)"/>). Layers that behave differently in training (Dropout,
    /// BatchNormalization) override this; the rest run <see cref="Forward(IReadOnlyList{Tensor})"/>.
    /// </summary>
    protected virtual Tensor Call(IReadOnlyList<Tensor> inputs, ForwardContext context) => Forward(inputs);

    /// <summary>
    /// The layer's computation for one call with its inputs' masks (see
    /// <see cref="Forward(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, ForwardContext)"/>). Layers whose computation uses
    /// the mask override this; the rest ignore the masks and run <see cref="Call(IReadOnlyList{Tensor}, ForwardContext)"/>.
    /// </summary>
    protected virtual Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context) => Call(inputs, context);

    /// <summary>
    /// Keras's <c>compute_mask</c> for one call: the output's mask, from the inputs (in this module's compute layout) and
    /// their masks. By default a layer that supports masking (<see cref="Layer.SupportsMasking"/>) passes the first
    /// input's mask on and any other drops it, as Keras's <c>Layer</c> does; Masking and the merges compute their own.
    /// </summary>
    public virtual Tensor? ComputeMask(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks) =>
        Layer.SupportsMasking && masks.Count > 0 ? masks[0] : null;

    /// <summary>The layout this module computes in; the model inserts permutes where layouts change.</summary>
    public virtual PhysicalLayout Layout => PhysicalLayout.Logical;

    /// <summary>The weights under their Keras names (<c>kernel</c>, <c>bias</c>, …), in Keras's order: every weight
    /// <see cref="DeclareWeight"/> created, in the order the record declares them.</summary>
    public virtual IEnumerable<WeightBinding> Weights()
    {
        if (declaredWeights.Count == 0) return [];
        // The module's parameters, found by the paths recorded at build: converting the module (`to(dtype)`, `to(device)`)
        // replaces them, so the bindings always name the current ones.
        var current = weightPaths is null ? null : named_parameters().ToDictionary(p => p.name, p => p.parameter);
        return WeightSpecs.Select(s => declaredWeights.GetValueOrDefault(s.Name)).OfType<WeightBinding>()
            .Select(w => current is not null && weightPaths!.TryGetValue(w.Name, out var path) && current.TryGetValue(path, out var p)
                ? w with { Parameter = p } : w)
            .ToList();
    }

    private readonly Dictionary<string, WeightBinding> declaredWeights = [];
    private Dictionary<string, string>? weightPaths;   // Keras name → the parameter's path in this module

    /// <summary>Called once the builder's constructor has registered its components: records where each declared weight
    /// lives in the module, so <see cref="Weights"/> follows it through conversions.</summary>
    internal void RecordWeightPaths()
    {
        if (declaredWeights.Count == 0) return;
        var byParameter = named_parameters().ToList();
        weightPaths = [];
        foreach (var (name, binding) in declaredWeights)
            if (byParameter.FirstOrDefault(p => ReferenceEquals(p.parameter, binding.Parameter)) is { name: { } path })
                weightPaths[name] = path;
    }
    private IReadOnlyList<ParameterSpec>? weightSpecs;

    /// <summary>The weights the record declares for the input shapes this module was built for (Keras's names, shapes,
    /// initializers, regularizers, constraints and dtypes).</summary>
    protected IReadOnlyList<ParameterSpec> WeightSpecs => weightSpecs ??= Layer.Parameters(InputShapes);

    /// <summary>
    /// The one seam every weight goes through. Creates the weight the record declares under the Keras name
    /// <paramref name="name"/>, stored in PyTorch's layout — <paramref name="torchToKeras"/> is the permutation that turns the
    /// stored tensor into Keras's layout (null: stored as Keras lays it out), so the stored shape follows from the declared
    /// Keras shape — fills it by its initializer in Keras's layout, and binds it under its name. <see cref="Weights"/>,
    /// saving, loading, regularizers and constraints all read that one binding; nothing is matched by position.
    /// </summary>
    /// <exception cref="InvalidOperationException">The record declares no weight of that name (a builder bug).</exception>
    protected Parameter DeclareWeight(string name, BuildContext context, long[]? torchToKeras = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var spec = WeightSpecs.FirstOrDefault(s => s.Name == name) ?? throw new InvalidOperationException(
            $"{Layer.Describe()} declares no weight named '{name}' (it declares {string.Join(", ", WeightSpecs.Select(s => $"'{s.Name}'"))}).");
        if (declaredWeights.ContainsKey(name)) throw new InvalidOperationException($"{Layer.Describe()}: weight '{name}' is declared twice.");
        var keras = spec.Dims;
        var torchShape = new long[keras.Length];
        for (var j = 0; j < keras.Length; j++) torchShape[torchToKeras is null ? j : (int)torchToKeras[j]] = keras[j];
        var parameter = BuildHelpers.CreateParameter(spec, torchShape, torchToKeras, context);
        declaredWeights[name] = new WeightBinding(spec.Name, parameter, spec.Trainable && Layer.Trainable, torchToKeras, spec.Regularizer, spec.Constraint);
        return parameter;
    }

    /// <summary>The layer's own random generators (a seeded Dropout's), by name, so checkpoints can save their state.</summary>
    public virtual IEnumerable<(string Name, Generator Generator)> Generators() => [];

    /// <summary>Non-trainable state that is not a parameter (e.g. moving statistics), under Keras names.</summary>
    public virtual IEnumerable<(string Name, Tensor Buffer)> KerasBuffers() => [];
}

/// <summary>
/// What one call of a model passes to every layer (Keras's <c>training</c> argument and the call's random state): whether
/// the call trains, the generator for the random masks of unseeded layers (null: torch's global generator), and where
/// the call records activity-regularization penalties. Made per call, so concurrent calls never share it.
/// </summary>
public sealed class ForwardContext
{
    /// <summary>A context for one call.</summary>
    /// <param name="training">Whether the call trains (Dropout drops, BatchNormalization uses and updates batch statistics).</param>
    /// <param name="generator">The generator for unseeded random layers; null for torch's global generator.</param>
    public ForwardContext(bool training, Generator? generator = null) : this(training, generator, []) { }

    internal ForwardContext(bool training, Generator? generator, List<Tensor> penalties)
    {
        Training = training;
        Generator = generator;
        ActivityPenalties = penalties;
    }

    /// <summary>An inference call (Keras's <c>training=False</c>).</summary>
    public static ForwardContext Inference => new(false);

    /// <summary>Whether the call trains.</summary>
    public bool Training { get; }

    /// <summary>The generator for unseeded random layers (null: torch's global generator).</summary>
    public Generator? Generator { get; }

    /// <summary>Activity penalties recorded in this call (training calls only).</summary>
    public List<Tensor> ActivityPenalties { get; }
}

/// <summary>Turns one kind of layer record into a module. Subclass <see cref="LayerBuilder{TLayer}"/>; builders are found by reflection.</summary>
public interface ILayerBuilder
{
    /// <summary>The record type handled (subtypes too, unless a more specific builder exists).</summary>
    Type LayerType { get; }

    /// <summary>Builds the module for the given input shapes (one for most layers).</summary>
    BuiltLayer Build(Layer layer, IReadOnlyList<Shape> inputShapes, BuildContext context);
}

/// <summary>Typed base for builders of single-input layers.</summary>
public abstract class LayerBuilder<TLayer> : ILayerBuilder where TLayer : Layer
{
    /// <inheritdoc />
    public Type LayerType => typeof(TLayer);

    /// <summary>Builds the module for a record of this type.</summary>
    public abstract BuiltLayer Build(TLayer layer, Shape inputShape, BuildContext context);

    BuiltLayer ILayerBuilder.Build(Layer layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        inputShapes.Count == 1
            ? Build((TLayer)layer, inputShapes[0], context)
            : throw new ArgumentException($"{layer.Describe()} takes one input; received {inputShapes.Count} input shapes.", nameof(inputShapes));
}

/// <summary>Typed base for builders of layers with several inputs (merge layers).</summary>
public abstract class MultiInputLayerBuilder<TLayer> : ILayerBuilder where TLayer : Layer
{
    /// <inheritdoc />
    public Type LayerType => typeof(TLayer);

    /// <summary>Builds the module for a record of this type and its input shapes.</summary>
    public abstract BuiltLayer Build(TLayer layer, IReadOnlyList<Shape> inputShapes, BuildContext context);

    BuiltLayer ILayerBuilder.Build(Layer layer, IReadOnlyList<Shape> inputShapes, BuildContext context) =>
        Build((TLayer)layer, inputShapes, context);
}

/// <summary>What a builder needs besides the record: the device, and the dtype policy its weights are created under.</summary>
public sealed class BuildContext
{
    internal BuildContext(Device device, DTypePolicy? policy = null)
    {
        Device = device;
        Policy = policy ?? DTypePolicy.Float32;
    }

    /// <summary>The policy of the layer being built (its record's <see cref="Layer.Dtype"/>).</summary>
    public DTypePolicy Policy { get; }

    /// <summary>The dtype weights are created in: the policy's variable dtype.</summary>
    public ScalarType VariableType => Policy.VariableType();

    internal BuildContext For(DTypePolicy policy) => policy == Policy ? this : new BuildContext(Device, policy);

    /// <summary>Where the weights are created.</summary>
    public Device Device { get; }

    internal torch.Device TorchDevice => Device.ToTorch();
}

/// <summary>The registry of layer builders: every <see cref="ILayerBuilder"/> in Functional.Torch, plus any registered by users.</summary>
public static class LayerBuilders
{
    private static readonly Dictionary<Type, ILayerBuilder> ByType = Discover();

    private static Dictionary<Type, ILayerBuilder> Discover()
    {
        var found = new Dictionary<Type, ILayerBuilder>();
        foreach (var t in typeof(LayerBuilders).Assembly.GetTypes())
            if (!t.IsAbstract && typeof(ILayerBuilder).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            {
                var b = (ILayerBuilder)Activator.CreateInstance(t)!;
                found[b.LayerType] = b;
            }
        return found;
    }

    /// <summary>Registers (or replaces) the builder for a record type — the extension point for custom layers.</summary>
    public static void Register(ILayerBuilder builder)
    {
        lock (ByType) ByType[builder.LayerType] = builder;
    }

    /// <summary>Builds a record into a module; the most specific registered builder wins.</summary>
    /// <exception cref="NotSupportedException">No builder handles the record's type.</exception>
    public static BuiltLayer Build(Layer layer, Shape inputShape, BuildContext context) => Build(layer, [inputShape], context);

    /// <summary>Builds a record with several inputs into a module; the most specific registered builder wins.</summary>
    public static BuiltLayer Build(Layer layer, IReadOnlyList<Shape> inputShapes, BuildContext context)
    {
        ILayerBuilder? builder = null;
        lock (ByType)
        {
            for (var t = layer.GetType(); t is not null && t != typeof(object) && builder is null; t = t.BaseType)
                ByType.TryGetValue(t, out builder);
        }
        if (builder is not null)
        {
            var built = builder.Build(layer, inputShapes, context.For(layer.Dtype));
            built.RecordWeightPaths();
            return built;
        }
        throw new NotSupportedException(
            $"{layer.Describe()}: no builder is registered for {layer.GetType().FullName}. Register one with LayerBuilders.Register.");
    }
}
