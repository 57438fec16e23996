using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Native;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Functional.Torch.Building;

/// <summary>
/// Any model declaration — a <see cref="Sequential"/>, a graph <see cref="Model"/>, models nested in models — built into
/// TorchSharp modules on a device by <see cref="Build"/>: it owns the weights (under their Keras names) and runs the
/// declaration's graph (<see cref="IModel.AsGraph"/>; a Sequential is a chain). Each layer is built once — a shared layer
/// is one module with one set of weights, called at every node that applies it — and a nested model is a built network
/// of its own. Offers inference, regularization penalties, constraints and one training step. Inputs and outputs are in
/// the declared (Keras) layout.
/// </summary>
/// <remarks>
/// <para>Layout: every value is kept in the Keras layout, except that the output of a <c>channels_last</c> spatial layer
/// that computes channels-first (<see cref="PhysicalLayout.ChannelsFirst"/>) stays channels-first while it flows into
/// layers that take that layout or do not care (<see cref="PhysicalLayout.Any"/>, when all their inputs agree); anything
/// else gets it permuted back first. So a chain of convolutions permutes once in and once out.</para>
/// <para>Thread safety: calls (<see cref="Predict(IReadOnlyList{Tensor}, int)"/>, <see cref="Forward(IReadOnlyList{Tensor}, ForwardContext)"/>,
/// evaluate) hold a read lease and may run on any number of threads at once; a training step, loading or restoring weights
/// and <see cref="Dispose(bool)"/> hold the write lease and run alone, so a call sees the weights between two steps and never
/// a freed model. The module-mode members (<see cref="Forward(IReadOnlyList{Tensor})"/> in train mode, <c>train()</c>/<c>eval()</c>,
/// <see cref="RegularizationLoss"/>, <see cref="ApplyConstraints"/>) share state: one thread. See docs/thread-safety.md.</para>
/// </remarks>
public sealed class BuiltNetwork : nn.Module<Tensor, Tensor>
{
    private readonly List<Tensor> activityPenalties = [];   // recorded by Forward calls that follow the module's mode

    private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> builtModules;
    private readonly nn.Module<Tensor, Tensor>?[] moduleOf;   // per operation of Graph: its module (null for inputs)
    private readonly Dictionary<string, int> operationIndex;
    private readonly ExecutionPlan plan;

    private BuiltNetwork(IModel declaration, Model graph, Device device, nn.Module<Tensor, Tensor>?[] built) : base(declaration.Name)
    {
        Declaration = declaration;
        Graph = graph;
        Device = device;
        inputShapes = declaration.InputShapes.ToArray();
        moduleOf = built;
        builtModules = nn.ModuleList(built.OfType<nn.Module<Tensor, Tensor>>().ToArray());
        operationIndex = graph.Operations.Select((o, i) => (o.Name, i)).ToDictionary(x => x.Name, x => x.i);
        plan = ExecutionPlan.Of(graph, built, operationIndex);
        RegisterComponents();
        var dtypes = InputDtypes(declaration).ToArray();
        // A string input carries no tensor: the string layers it feeds run on the host (TextPreprocessing.cs).
        stringInputs = dtypes.Select(d => d == "string").ToArray();
        inputTypes = dtypes.Select(d => d == "string" ? ScalarType.Int64 : DTypes.ToScalarType(d)).ToArray();
        if (stringInputs.Any(s => s) || plan.Steps.Any(s => s.Layer is IHostStringStage))
            HostStringStages.CheckPlan(Declaration.Name, [.. plan.Steps.Select(s => ((nn.Module?)s.Layer ?? s.Network, s.InputSlots))],
                [.. plan.InputSlots.Where((_, i) => stringInputs[i])]);
    }

    private readonly bool[] stringInputs;

    /// <summary>Whether the model takes strings (an <see cref="Input"/> of dtype <c>string</c>) at any input.</summary>
    public bool TakesStrings => stringInputs.Any(s => s);

    /// <summary>
    /// The forward pass of a model whose inputs are all strings (one list per input): each string layer right after a
    /// string input encodes its strings on the host, the rest runs as <see cref="Forward(IReadOnlyList{Tensor}, ForwardContext)"/>.
    /// </summary>
    internal IReadOnlyList<Tensor> ForwardTexts(IReadOnlyList<IReadOnlyList<string>> texts, ForwardContext context)
    {
        using var lease = ReadLease();
        return ForwardCore([.. texts.Select(_ => (Tensor)null!)], context, texts);
    }

    private readonly ScalarType[] inputTypes;

    // Each model input's dtype, as its Input record declares it (float32 unless a policy or the Input says otherwise).
    private static IEnumerable<string> InputDtypes(IModel model) => model switch
    {
        Sequential s => [s.Input.TensorDtype],
        Model m => m.Inputs.Select(r => m.GetLayer(r.Layer).Layer is Input i ? i.TensorDtype : "float32"),
        _ => model.InputShapes.Select(_ => "float32"),
    };

    // Set by `to(dtype)`: the floating dtype every layer and floating input was converted to.
    private ScalarType? convertedTo;

    /// <inheritdoc />
    protected override nn.Module _to(ScalarType dtype, bool non_blocking)
    {
        var result = base._to(dtype, non_blocking);
        Converted(dtype);
        return result;
    }

    /// <inheritdoc />
    protected override nn.Module _to(torch.Device device, ScalarType dtype, bool non_blocking)
    {
        var result = base._to(device, dtype, non_blocking);
        Converted(dtype);
        return result;
    }

    // A converted network computes every layer in the new dtype (a float64 twin of a float32 model, say), nested ones too.
    private void Converted(ScalarType dtype)
    {
        if (!DTypes.IsFloating(dtype)) return;
        convertedTo = dtype;
        foreach (var l in BuiltLayers) l.ConvertedTo(dtype);
        foreach (var n in NestedNetworks) n.Converted(dtype);
    }

    private readonly Shape[] inputShapes;

    /// <summary>The declaration this was built from (a <see cref="Sequential"/> or a graph <see cref="Model"/>).</summary>
    public IModel Declaration { get; }

    /// <summary>The graph this network runs: <see cref="Declaration"/>'s <see cref="IModel.AsGraph"/>.</summary>
    public Model Graph { get; }

    /// <summary>Where the weights live.</summary>
    public Device Device { get; }

    /// <summary>
    /// The latest configuration <c>Compile</c> attached (Keras's <c>model.compile</c>), which the network's
    /// <c>Fit</c>/<c>Evaluate</c> extension methods use; null before the first.
    /// </summary>
    internal ICompilation? Compiled { get; set; }

    /// <summary>
    /// Builds any model declaration on <paramref name="device"/> (the CPU by default), initialising weights as Keras does,
    /// then loading the declaration's <see cref="Model.WeightsFile"/> when it has one (Keras's <c>weights=path</c>).
    /// </summary>
    /// <exception cref="NotSupportedException">A shared layer is applied to inputs of different shapes (its module is built for one shape).</exception>
    /// <exception cref="InvalidDataException">The declaration's weights file does not match it (named in the message).</exception>
    public static BuiltNetwork Build(IModel model, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        LibTorch.EnsureLoaded();
        device ??= Device.Cpu;
        var graph = model.AsGraph();
        var context = new BuildContext(device);
        var built = new nn.Module<Tensor, Tensor>?[graph.Operations.Length];
        try
        {
            for (var i = 0; i < built.Length; i++)
            {
                var op = graph.Operations[i];
                if (op.IsInput) continue;
                var shapes = op.Nodes[0].InputShapes;
                built[i] = op.Operation.Match<nn.Module<Tensor, Tensor>>(
                    layer => LayerBuilders.Build(layer, shapes, context),
                    nested => Build(nested, device));
                if (op.Layer is not null) CheckShared(op);
            }
            var result = new BuiltNetwork(model, graph, device, built);
            result.eval();
            // A declaration with a weights file (Applications' weights: "path") comes with those weights.
            if (graph.WeightsFile is { } weightsFile) WeightLoading.LoadDeclaredFile(result, weightsFile, graph.WeightsFileByName);
            return result;
        }
        catch
        {
            foreach (var m in built) m?.Dispose();
            throw;
        }
    }

    // A layer applied at several nodes is one module with one set of weights, built for its first node's input shapes;
    // built layers compute sizes per call, so it runs on any other node whose inputs have the same ranks and whose
    // weights (names and shapes) come out the same, as in Keras.
    private static void CheckShared(GraphLayer op)
    {
        var layer = op.Layer!;
        var first = op.Nodes[0].InputShapes;
        var weights = layer.Parameters(first).Select(p => (p.Name, p.Shape)).ToList();
        foreach (var node in op.Nodes.Skip(1))
        {
            var shapes = node.InputShapes;
            string? problem = null;
            if (shapes.Length != first.Length || shapes.Where((s, i) => s.Rank != first[i].Rank).Any())
                problem = "the inputs differ in number or rank";
            else if (layer.Parameters(shapes).Select(p => (p.Name, p.Shape)).ToList() is var other && !other.SequenceEqual(weights))
                problem = "its weights would differ (" + string.Join(", ", other.Zip(weights).Where(w => w.First != w.Second)
                    .Select(w => $"{w.First.Name} {w.First.Shape.ToSampleString()} vs {w.Second.Shape.ToSampleString()}").DefaultIfEmpty("a different set")) + ")";
            if (problem is not null)
                throw new NotSupportedException(
                    $"{layer.Describe()} is shared between inputs of shape {string.Join(", ", first)} and {string.Join(", ", shapes)}, but {problem}; " +
                    "a shared layer has one set of weights, so it can only take inputs its weights fit.");
        }
    }

    /// <summary>The built layers, each once, in the graph's (Keras's) order.</summary>
    public IReadOnlyList<BuiltLayer> BuiltLayers => moduleOf.OfType<BuiltLayer>().ToList();

    /// <summary>Built models used as layers inside this one, each once.</summary>
    private IEnumerable<BuiltNetwork> NestedNetworks => moduleOf.OfType<BuiltNetwork>();

    /// <summary>The built module of the layer (or nested model) with the given name: a <see cref="BuiltLayer"/> or a <see cref="BuiltNetwork"/>.</summary>
    /// <exception cref="KeyNotFoundException">No built layer has that name (model inputs have no module).</exception>
    public nn.Module<Tensor, Tensor> this[string name] =>
        operationIndex.TryGetValue(name, out var i) && moduleOf[i] is { } m
            ? m
            : throw new KeyNotFoundException($"Model '{Declaration.Name}' has no built layer named '{name}'.");

    /// <summary>Every weight under its Keras path (<c>conv2d/kernel</c>; <c>encoder/conv2d/kernel</c> inside a nested model).</summary>
    public IEnumerable<WeightBinding> Weights => weights ??=
        BuiltLayers.SelectMany(l => l.Weights().Select(w => w.Prefixed(l.Layer.Name ?? l.Layer.DefaultNameStem)))
            .Concat(NestedNetworks.SelectMany(n => n.Weights.Select(w => w.Prefixed(n.Declaration.Name)))).ToList();

    /// <summary>Every layer's own random generator (seeded Dropout layers) under its Keras path, nested models included.</summary>
    public IEnumerable<(string Name, Generator Generator)> LayerGenerators =>
        BuiltLayers.SelectMany(l => l.Generators().Select(g => ($"{l.Layer.Name ?? l.Layer.DefaultNameStem}/{g.Name}", g.Generator)))
            .Concat(NestedNetworks.SelectMany(n => n.LayerGenerators.Select(g => ($"{n.Declaration.Name}/{g.Name}", g.Generator))));

    // A built network's structure is fixed, so its weight bindings (and which carry a regularizer or a constraint) are
    // listed once: the per-step paths below then cost nothing for networks without regularizers or constraints.
    private List<WeightBinding>? weights;
    private List<WeightBinding> Regularized => regularized ??= Weights.Where(w => w.Regularizer is not null && w.Trainable).ToList();
    private List<WeightBinding>? regularized;
    private List<WeightBinding> Constrained => constrained ??= Weights.Where(w => w.Constraint is not null && w.Trainable).ToList();
    private List<WeightBinding>? constrained;

    /// <summary>The parameters an optimizer should update.</summary>
    public IEnumerable<Parameter> TrainableParameters => Weights.Where(w => w.Trainable).Select(w => w.Parameter);

    /// <summary>
    /// Runs the network on one tensor per model input; returns one tensor per model output. Whether it trains follows the
    /// module's mode (<c>train()</c>/<c>eval()</c>, eval after building), as TorchSharp modules do; prefer
    /// <see cref="Forward(IReadOnlyList{Tensor}, ForwardContext)"/>, which makes it a property of the call.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public IReadOnlyList<Tensor> Forward(IReadOnlyList<Tensor> inputs)
    {
        using var lease = ReadLease();   // before reading the mode, which lives in the native module
        return ForwardCore(inputs, new ForwardContext(training, null, activityPenalties));
    }

    /// <summary>
    /// Runs the network for one call (Keras's <c>model(x, training=…)</c>): <paramref name="context"/> says whether it trains
    /// and carries the call's random generator, so concurrent calls never affect each other through the module's mode.
    /// The call holds a read lease on the network for its duration (see <see cref="Dispose(bool)"/>).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public IReadOnlyList<Tensor> Forward(IReadOnlyList<Tensor> inputs, ForwardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var lease = ReadLease();
        return ForwardCore(inputs, context);
    }

    /// <summary>The forward pass proper: each node of the graph in execution order, on one tensor per model input.</summary>
    /// <exception cref="ArgumentException">The wrong number of inputs, or a tensor of the wrong shape (named with the expected one).</exception>
    private IReadOnlyList<Tensor> ForwardCore(IReadOnlyList<Tensor> inputs, ForwardContext context, IReadOnlyList<IReadOnlyList<string>>? texts = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != inputShapes.Length)
            throw new ArgumentException(
                inputShapes.Length == 1
                    ? $"Model '{Declaration.Name}' takes one input; received {inputs.Count}."
                    : $"Model '{Declaration.Name}' takes {inputShapes.Length} input(s) of shapes [{string.Join(", ", inputShapes.AsEnumerable())}]; received {inputs.Count}.",
                nameof(inputs));
        var values = new Value[plan.SlotCount];
        for (var i = 0; i < inputs.Count; i++)
            values[plan.InputSlots[i]] = stringInputs[i]
                ? (texts?[i] is not null ? default : throw HostStringStages.NeedsStrings(Declaration.Name, InputLabel(i)))
                : new Value(ModelInput(inputs[i], i), false, null);
        foreach (var step in plan.Steps)
        {
            if (step.Layer is IHostStringStage host)
            {
                values[step.OutputSlot] = new Value(host.Encode(texts![Array.IndexOf(plan.InputSlots, step.InputSlots[0])], Device), false, null);
                continue;
            }
            if (step.Layer is { } layer)
            {
                Run(layer, step.InputSlots, step.OutputSlot, values, context);
                continue;
            }
            var args = new Tensor[step.InputSlots.Length];
            for (var j = 0; j < args.Length; j++) args[j] = values[step.InputSlots[j]].Logical();
            var outs = step.Network!.Forward(args, context);
            for (var j = 0; j < outs.Count; j++) values[step.OutputSlot + j] = new Value(outs[j], false, null);
        }
        var result = new Tensor[plan.OutputSlots.Length];
        for (var i = 0; i < result.Length; i++)
        {
            var v = values[plan.OutputSlots[i]];
            result[i] = v.ChannelsFirst ? v.Logical().contiguous() : v.Tensor;
        }
        return result;
    }

    // Runs one layer on its inputs, in the layout it computes in (see the class remarks), with its inputs' masks (Keras's
    // call with mask=…); its output carries the mask the layer computes (Keras's compute_mask), kept in the Keras layout.
    private static void Run(BuiltLayer layer, int[] slots, int outputSlot, Value[] values, ForwardContext context)
    {
        var args = new Tensor[slots.Length];
        var masks = new Tensor?[slots.Length];
        for (var j = 0; j < slots.Length; j++) masks[j] = values[slots[j]].Mask;
        var layout = layer.Layout;
        var channelsFirst = layout == PhysicalLayout.ChannelsFirst;
        if (layout == PhysicalLayout.Any)
        {
            var rank = values[slots[0]].Tensor.dim();
            var keep = true;
            foreach (var s in slots) keep &= values[s].ChannelsFirst && values[s].Tensor.dim() == rank;
            channelsFirst = keep;
            if (keep)
                for (var j = 0; j < args.Length; j++) args[j] = values[slots[j]].Tensor;
        }
        if (layout != PhysicalLayout.Any || !channelsFirst)
            for (var j = 0; j < args.Length; j++) args[j] = channelsFirst ? values[slots[j]].InChannelsFirst() : values[slots[j]].Logical();
        if (layer.Layer.OutputCount == 1)
        {
            var output = layer.Forward(args, masks, context);
            var mask = layer.ComputeMask(args, masks);
            values[outputSlot] = new Value(AfterLayer(layer, output, context), channelsFirst, mask);
            return;
        }
        var outputs = layer.ForwardAll(args, masks, context);
        var outputMasks = layer.ComputeMasks(args, masks);
        for (var j = 0; j < outputs.Count; j++)
            values[outputSlot + j] = new Value(AfterLayer(layer, outputs[j], context), channelsFirst, outputMasks[j]);
    }

    /// <summary>A computed value, whether it is held channels-first (the output of a channels-first spatial layer), and
    /// its Keras mask, if any (always in the Keras layout).</summary>
    private readonly record struct Value(Tensor Tensor, bool ChannelsFirst, Tensor? Mask)
    {
        public Tensor Logical() => ChannelsFirst ? Tensor.permute(ToChannelsLast((int)Tensor.dim())) : Tensor;
        public Tensor InChannelsFirst() => ChannelsFirst ? Tensor : Layouts.Standard(Tensor.permute(ToChannelsFirst((int)Tensor.dim())));
    }

    /// <summary>
    /// The graph's execution order resolved once, at build: every output of every node has a slot in one array of values;
    /// each step runs one node's module on its input slots and fills its output slots.
    /// </summary>
    private sealed record ExecutionPlan(int SlotCount, int[] InputSlots, int[] OutputSlots, Step[] Steps)
    {
        public static ExecutionPlan Of(Model graph, nn.Module<Tensor, Tensor>?[] modules, Dictionary<string, int> operationIndex)
        {
            var first = new int[graph.Operations.Length][];
            var count = 0;
            for (var o = 0; o < first.Length; o++)
            {
                var op = graph.Operations[o];
                first[o] = new int[op.Nodes.Length];
                for (var k = 0; k < op.Nodes.Length; k++) { first[o][k] = count; count += op.Nodes[k].OutputShapes.Length; }
            }
            int Slot(TensorRef r) => first[operationIndex[r.Layer]][r.Node] + r.Tensor;
            var steps = new List<Step>();
            foreach (var (o, k) in graph.ExecutionOrder)
            {
                if (modules[o] is not { } module) continue;   // a model input: its value is given
                var ins = graph.Operations[o].Nodes[k].Inputs.Select(Slot).ToArray();
                steps.Add(new Step(module as BuiltLayer, module as BuiltNetwork, ins, first[o][k]));
            }
            return new ExecutionPlan(count, graph.Inputs.Select(Slot).ToArray(), graph.Outputs.Select(Slot).ToArray(), steps.ToArray());
        }
    }

    /// <summary>One node: a layer's module or a nested network (exactly one is set), its input slots and first output slot.</summary>
    private sealed record Step(BuiltLayer? Layer, BuiltNetwork? Network, int[] InputSlots, int OutputSlot);

    // ---------------------------------------------------------------- leases and disposal

    // Calls (forward, predict, evaluate) hold a read lease; a training step, loading weights and Dispose hold the write
    // lease, so a step never runs alongside a call and Dispose waits for calls in flight. Recursion lets a thread that
    // holds the write lease (a training step) run forward passes.
    private readonly ReaderWriterLockSlim lease = new(LockRecursionPolicy.SupportsRecursion);
    private volatile bool disposed;

    /// <summary>Whether <see cref="Dispose(bool)"/> has run.</summary>
    public bool IsDisposed => disposed;

    /// <summary>A read lease for a call: many at once; none while a training step or Dispose holds the write lease.</summary>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    internal Lease ReadLease()
    {
        if (disposed) throw Disposed();
        lease.EnterReadLock();
        if (disposed) { lease.ExitReadLock(); throw Disposed(); }
        return new Lease(lease, write: false);
    }

    /// <summary>The write lease for a training step or a weight change: waits for calls in flight, then runs alone.</summary>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="InvalidOperationException">This thread is inside a call on the network (e.g. a callback during evaluate).</exception>
    internal Lease WriteLease()
    {
        if (disposed) throw Disposed();
        if (lease.IsReadLockHeld && !lease.IsWriteLockHeld)
            throw new InvalidOperationException($"Model '{Declaration.Name}' cannot be trained or changed from inside a predict or evaluate call on it.");
        lease.EnterWriteLock();
        if (disposed) { lease.ExitWriteLock(); throw Disposed(); }
        return new Lease(lease, write: true);
    }

    private ObjectDisposedException Disposed() =>
        new(GetType().Name, $"Model '{Declaration.Name}' has been disposed; its weights are gone.");

    /// <summary>A held lease; disposing releases it (on the thread that took it).</summary>
    internal readonly struct Lease(ReaderWriterLockSlim owner, bool write) : IDisposable
    {
        public void Dispose()
        {
            if (write) owner.ExitWriteLock(); else owner.ExitReadLock();
        }
    }

    /// <summary>
    /// Releases the weights. Safe while other threads use the network: it waits for calls and training steps in flight to
    /// finish, and every later call throws <see cref="ObjectDisposedException"/> instead of touching freed memory.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from inside a call on this network on the same thread (e.g. a callback).</exception>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (lease.IsReadLockHeld || lease.IsWriteLockHeld)
                throw new InvalidOperationException($"Model '{Declaration.Name}' cannot be disposed from inside a call on it.");
            lease.EnterWriteLock();
            try
            {
                if (disposed) return;
                disposed = true;
                base.Dispose(disposing);
            }
            finally { lease.ExitWriteLock(); }
        }
        else base.Dispose(disposing);
    }

    /// <summary>Single-input, single-output forward pass.</summary>
    public override Tensor forward(Tensor x)
    {
        var outputs = Forward([x]);
        if (outputs.Count != 1)
            throw new InvalidOperationException($"Model '{Declaration.Name}' has {outputs.Count} outputs; call Forward with a list.");
        return outputs[0];
    }

    /// <summary>How messages name model input <paramref name="index"/>: <c>input</c> for a single-input model, <c>input 0 ('image')</c> otherwise.</summary>
    private string InputLabel(int index) => inputShapes.Length == 1 ? "input" : $"input {index} ('{Graph.Inputs[index].Layer}')";

    /// <summary>The error for a missing (null) tensor for model input <paramref name="index"/>.</summary>
    internal ArgumentNullException NullInput(int index) =>
        new("inputs", $"Model '{Declaration.Name}' received null for {InputLabel(index)}, which expects a tensor of shape " +
                      $"{inputShapes[index]} (batch first).");

    /// <summary>
    /// What model input <paramref name="index"/> receives, as Keras's Input layer makes it: the shape is checked, and a
    /// real, integer or bool tensor of another dtype is cast to the Input's dtype (<see cref="Input.TensorDtype"/>: float32
    /// by default) — a new tensor only when the dtype differs, so a tensor of the right dtype passes through untouched. A
    /// network converted to another floating dtype (<c>net.to(ScalarType.Float64)</c>, e.g. a float64 reference twin)
    /// casts its floating inputs to that dtype instead.
    /// </summary>
    /// <exception cref="ArgumentNullException">No tensor was given for the input.</exception>
    /// <exception cref="ArgumentException">The wrong shape, or a complex or quantized tensor (which cannot become float32).</exception>
    private Tensor ModelInput(Tensor? x, int index)
    {
        if (x is null) throw NullInput(index);
        var shape = x.shape;   // one native call; each x.shape makes a new array
        if (!Fits(shape, inputShapes[index])) throw WrongShape(shape, inputShapes[index], InputLabel(index));
        var dtype = x.dtype;
        var target = InputType(index);
        if (dtype == target) return x;
        if (!Castable(dtype))
            throw new ArgumentException(
                $"Model '{Declaration.Name}' expects {InputLabel(index)} as {target.ToString().ToLowerInvariant()} (real, integer and bool tensors are cast to it); " +
                $"received a tensor of dtype {dtype}.", "inputs");
        return x.to_type(target);
    }

    // The Input's dtype, unless the network was converted to another floating dtype (integer inputs stay integer).
    private ScalarType InputType(int index) =>
        convertedTo is { } c && DTypes.IsFloating(inputTypes[index]) ? c : inputTypes[index];

    private static bool Castable(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16
        or ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 or ScalarType.Bool;

    // The declared rank, every known dimension equal, and every unknown (None) one at least 1.
    private static bool Fits(long[] shape, Shape expected) =>
        shape.Length == expected.Rank + 1 && expected.Accepts(shape[1..]) && shape.Skip(1).All(d => d >= 1);

    // Names the model, the input and both shapes.
    private ArgumentException WrongShape(long[] shape, Shape expected, string input) =>
        new($"Model '{Declaration.Name}' expects {input} of shape {expected} (batch first), but received a tensor of shape " +
            $"({string.Join(", ", shape)}).", "x");

    /// <summary>
    /// Called after each layer's forward pass: in training mode, records the layer's activity penalty
    /// (Keras: regularizer(output) / batch size, and 0 for an empty batch).
    /// </summary>
    private static Tensor AfterLayer(BuiltLayer layer, Tensor output, ForwardContext context)
    {
        if (context.Training && layer.Layer.ActivityRegularizer is { } r)
            context.ActivityPenalties.Add(RegularizerOps.Penalty(r, output) / Math.Max(1L, output.dim() > 0 ? output.shape[0] : 1L));
        return output;
    }

    /// <summary>
    /// The regularization penalties to add to the loss: every trainable weight's regularizer on the weight's Keras-layout
    /// view (as Keras sums <c>layer.losses</c>; a frozen layer's weights add nothing), plus the activity penalties recorded
    /// since the last call (which are then cleared). A zero scalar when there are none.
    /// </summary>
    public Tensor RegularizationLoss()
    {
        var total = torch.zeros(1, dtype: ScalarType.Float32, device: Device.ToTorch()).squeeze();
        return AddRegularization(total);
    }

    /// <summary>
    /// <paramref name="loss"/> plus the weight penalties and the activity penalties recorded by one call
    /// (<see cref="ForwardContext.ActivityPenalties"/>, which are then cleared).
    /// </summary>
    public Tensor AddRegularization(Tensor loss, ForwardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var total = AddWeightPenalties(loss);
        foreach (var p in context.ActivityPenalties) total = total + p;
        context.ActivityPenalties.Clear();
        return total;
    }

    /// <summary>
    /// <paramref name="loss"/> plus <see cref="RegularizationLoss"/>, without creating any tensor when the network has no
    /// regularizer and no activity penalty was recorded (the common case, kept free for the training step).
    /// </summary>
    public Tensor AddRegularization(Tensor loss)
    {
        var total = AddWeightPenalties(loss);
        foreach (var p in TakeActivityPenalties()) total = total + p;
        return total;
    }

    // loss + every trainable weight's regularizer on its Keras-layout view; no new tensor when there is none.
    private Tensor AddWeightPenalties(Tensor loss)
    {
        var total = loss;
        foreach (var w in Regularized)
        {
            using var view = w.KerasView();
            total = total + RegularizerOps.Penalty(w.Regularizer!, view);
        }
        return total;
    }

    // This network's recorded activity penalties and those of its nested networks; they are forgotten once taken.
    private List<Tensor> TakeActivityPenalties()
    {
        if (activityPenalties.Count == 0 && !NestedNetworks.Any()) return [];
        var taken = new List<Tensor>(activityPenalties);
        activityPenalties.Clear();
        foreach (var n in NestedNetworks) taken.AddRange(n.TakeActivityPenalties());
        return taken;
    }

    /// <summary>Forgets recorded activity penalties (e.g. after an evaluation pass in training mode).</summary>
    public void ClearActivityPenalties() => TakeActivityPenalties();

    /// <summary>The permutation from a channels-last tensor of the given rank (batch included) to channels-first.</summary>
    private static long[] ToChannelsFirst(int rank) => [0, rank - 1, .. Enumerable.Range(1, rank - 2).Select(i => (long)i)];

    /// <summary>The permutation from a channels-first tensor of the given rank (batch included) back to channels-last.</summary>
    private static long[] ToChannelsLast(int rank) => [0, .. Enumerable.Range(2, rank - 2).Select(i => (long)i), 1];

    /// <summary>
    /// Applies every trainable weight's constraint to its Keras-layout view (Keras's optimizer does this after each update,
    /// to the trainable variables only, so a frozen layer's weights are left alone). It changes weights, so it waits for
    /// running predictions and steps to finish, like a training step.
    /// </summary>
    public void ApplyConstraints()
    {
        using var writing = WriteLease();
        ApplyConstraintsHeld();
    }

    // The caller holds the write lease (a training step).
    internal void ApplyConstraintsHeld()
    {
        foreach (var w in Constrained)
        {
            using var view = w.KerasView();
            ConstraintOps.Apply(w.Constraint!, view);
        }
    }

    /// <summary>Inference for single-input, single-output models: inference mode for this call (the module's mode is not used), no gradients, in batches; returns a CPU tensor.</summary>
    public Tensor Predict(Tensor x, int batchSize = 32) =>
        Declaration.OutputShapes.Count == 1
            ? Predict([x], batchSize)[0]
            : throw new InvalidOperationException($"Model '{Declaration.Name}' has {Declaration.OutputShapes.Count} outputs; call Predict with a list.");

    /// <summary>
    /// Inference (Keras's <c>predict</c>): every layer in inference mode (<c>training=False</c>), no gradients, in batches;
    /// one CPU tensor per model output. The model is never changed, so any number of threads may predict at once.
    /// Inputs must agree on their sample count (Keras's "Data cardinality is ambiguous"); 0 samples give empty outputs.
    /// </summary>
    /// <exception cref="ArgumentException">No tensor per model input, a scalar, or inputs with different sample counts.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public IReadOnlyList<Tensor> Predict(IReadOnlyList<Tensor> x, int batchSize = 32) => Predict(x, batchSize, CancellationToken.None, null);

    /// <summary>Refuses a batch size below 1 (predict, fit, evaluate and the datasets share the message).</summary>
    internal static void CheckBatchSize(int batchSize, string name = "batchSize")
    {
        if (batchSize <= 0)
            throw new ArgumentException($"Expected argument '{name}' to be a positive integer. Received: {name}={batchSize}.", name);
    }

    /// <summary>
    /// <see cref="Predict(IReadOnlyList{Tensor}, int)"/> that checks <paramref name="cancellationToken"/> before each batch
    /// (the partial outputs are released on cancellation) and calls <paramref name="afterBatch"/>(batches done, batches) after each.
    /// </summary>
    internal IReadOnlyList<Tensor> Predict(IReadOnlyList<Tensor> x, int batchSize, CancellationToken cancellationToken, Action<int, int>? afterBatch)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckBatchSize(batchSize);
        var n = SampleCount(x, "x");
        using var lease = ReadLease();
        var context = ForwardContext.Inference;
        var parts = new List<List<Tensor>>();
        var batches = (int)((n + batchSize - 1) / batchSize);
        try
        {
            for (long start = 0; start < n; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var len = Math.Min(batchSize, n - start);
                var outs = ForwardCore(x.Select(t => Device.Place(t.narrow(0, start, len))).ToList(), context);
                parts.Add(outs.Select(o => o.cpu().MoveToOuterDisposeScope()).ToList());
                afterBatch?.Invoke(parts.Count, batches);
            }
            if (parts.Count == 0)
            {
                // Keras returns empty arrays of the output shapes for 0 samples; the inputs are checked as for a batch.
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var outs = ForwardCore(x.Select(t => Device.Place(t)).ToList(), context);
                return outs.Select(o => o.cpu().MoveToOuterDisposeScope()).ToList();
            }
            return Enumerable.Range(0, Declaration.OutputShapes.Count).Select(i => cat(parts.Select(p => p[i]).ToList(), 0)).ToList();
        }
        finally
        {
            foreach (var p in parts) foreach (var t in p) t.Dispose();
        }
    }

    /// <summary>Throws <see cref="NullInput"/> for the first null tensor in <paramref name="x"/> (one per model input).</summary>
    internal void RequireInputs(IReadOnlyList<Tensor> x)
    {
        for (var i = 0; i < x.Count; i++)
        {
            if (x[i] is null) throw NullInput(Math.Min(i, inputShapes.Length - 1));
            // TorchSharp says "Tensor invalid -- empty handle." (an InvalidOperationException) for a disposed tensor.
            if (x[i].IsInvalid)
                throw new ObjectDisposedException(nameof(Tensor), $"Model '{Declaration.Name}' received a disposed tensor for {InputLabel(Math.Min(i, inputShapes.Length - 1))}.");
        }
    }

    /// <summary>
    /// The number of samples in <paramref name="x"/> (one tensor per model input), checked as Keras does: a tensor per
    /// input, none a scalar, all with the same first dimension.
    /// </summary>
    /// <exception cref="ArgumentException">The wrong number of tensors, a scalar, or different sample counts (all named).</exception>
    /// <summary>
    /// <see cref="SampleCount"/>, and each tensor's shape and dtype as <see cref="ModelInput"/> will check them — for data
    /// that is only used later (fit's validation data), so that a mistake there fails before any training step.
    /// </summary>
    internal long CheckInputs(IReadOnlyList<Tensor> x, string argument)
    {
        var n = SampleCount(x, argument);
        for (var i = 0; i < x.Count; i++)
        {
            var shape = x[i].shape;
            if (!Fits(shape, inputShapes[i]))
                throw new ArgumentException($"Model '{Declaration.Name}' expects {InputLabel(i)} of shape {inputShapes[i]} (batch first), but " +
                    $"'{argument}' has a tensor of shape ({string.Join(", ", shape)}).", argument);
            if (x[i].dtype != InputType(i) && !Castable(x[i].dtype))
                throw new ArgumentException($"Model '{Declaration.Name}' cannot take a tensor of dtype {x[i].dtype} in '{argument}' for {InputLabel(i)}.", argument);
        }
        return n;
    }

    internal long SampleCount(IReadOnlyList<Tensor> x, string argument)
    {
        RequireInputs(x);
        if (x.Count != inputShapes.Length)
            throw new ArgumentException(
                $"Model '{Declaration.Name}' takes {inputShapes.Length} input(s) of shapes [{string.Join(", ", inputShapes.AsEnumerable())}]; received {x.Count}.", argument);
        for (var i = 0; i < x.Count; i++)
            if (x[i].dim() == 0)
                throw new ArgumentException(
                    $"Model '{Declaration.Name}' expects {InputLabel(i)} of shape {inputShapes[i]} (batch first), but received a scalar; " +
                    "give a batch, even of one sample.", argument);
        var n = x[0].shape[0];
        if (x.Any(t => t.shape[0] != n))
            throw new ArgumentException(
                "Data cardinality is ambiguous. Make sure all arrays contain the same number of samples. " +
                $"'{argument}' sizes: {string.Join(", ", x.Select((t, i) => $"{InputLabel(i)}: {t.shape[0]}"))}.", argument);
        return n;
    }

    /// <summary>
    /// One training step: forward in training mode (for this call; the module's mode is left alone), <paramref name="loss"/>(prediction, target) plus regularization
    /// penalties, backward, optimizer step, constraints. Every tensor made on the way is released. Returns the loss.
    /// </summary>
    public float TrainStep(Tensor x, Tensor target, Func<Tensor, Tensor, Tensor> loss, optim.Optimizer optimizer)
    {
        if (x is null) throw NullInput(0);
        ArgumentNullException.ThrowIfNull(optimizer);
        using var writing = WriteLease();
        using var scope = NewDisposeScope();
        var (value, _) = TrainingStep([Device.Place(x)], new ForwardContext(true),
            prediction => prediction.Count == 1
                ? loss(prediction[0], Device.Place(target))
                : throw new InvalidOperationException($"Model '{Declaration.Name}' has {prediction.Count} outputs; TrainStep takes one."),
            total => { total.backward(); optimizer.step(); });
        return value;
    }

    /// <summary>
    /// The one training step every path takes (this <see cref="TrainStep"/> and <c>CompiledModel</c>'s fit and train steps),
    /// inside the caller's write lease and dispose scope: gradients cleared, a training forward pass, the loss plus the
    /// regularization penalties, <paramref name="update"/> (backward and the optimizer's step), then the constraints.
    /// Returns the loss's value and the predictions.
    /// </summary>
    internal (float Loss, IReadOnlyList<Tensor> Predictions) TrainingStep(IReadOnlyList<Tensor> placedInputs, ForwardContext context,
        Func<IReadOnlyList<Tensor>, Tensor> lossOf, Action<Tensor> update)
    {
        // Grad mode is per thread in libtorch: a step needs it on, also when called under no_grad or on a borrowed thread.
        using var grad = enable_grad();
        zero_grad();
        var predictions = ForwardCore(placedInputs, context);
        var loss = AddRegularization(lossOf(predictions), context);
        update(loss);
        ApplyConstraintsHeld();
        return (loss.ToSingle(), predictions);   // float32, float64 (a float64 model) or a half type alike
    }
}

/// <summary>
/// What <c>Compile</c> attaches to a network (the training layer's compiled model). Building only holds it: training sits
/// above building, so the slot is typed by this marker and the training layer reads it back as its own type.
/// </summary>
internal interface ICompilation;
