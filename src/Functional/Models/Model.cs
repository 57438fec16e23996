using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Collections.Immutable;

namespace Functional.Models;

/// <summary>
/// Where a tensor comes from inside a graph model — Keras's <c>keras_history</c>: the producing layer's name, which of
/// its applications (node) and which of that node's outputs. Printed as Keras's summary prints it: <c>conv2d[0][0]</c>.
/// </summary>
/// <param name="Layer">The name of the layer (or nested model) that produces the tensor.</param>
/// <param name="Node">Which application of that layer, in order (0 unless the layer is shared).</param>
/// <param name="Tensor">Which output of that application (0 unless it is a multi-output model).</param>
public readonly record struct TensorRef(string Layer, int Node, int Tensor)
{
    /// <summary>Keras's form, <c>conv2d[0][0]</c>.</summary>
    public override string ToString() => $"{Layer}[{Node}][{Tensor}]";
}

/// <summary>One application of a layer inside a <see cref="Model"/>: where its inputs come from and the shapes in and out.</summary>
public sealed class GraphNode : IEquatable<GraphNode>
{
    internal GraphNode(ImmutableArray<TensorRef> inputs, ImmutableArray<Shape> inputShapes, ImmutableArray<Shape> outputShapes)
    {
        Inputs = inputs;
        InputShapes = inputShapes;
        OutputShapes = outputShapes;
    }

    /// <summary>The tensors the layer is applied to (empty for an input).</summary>
    public ImmutableArray<TensorRef> Inputs { get; }

    /// <summary>Their per-sample shapes.</summary>
    public ImmutableArray<Shape> InputShapes { get; }

    /// <summary>The per-sample shapes it produces.</summary>
    public ImmutableArray<Shape> OutputShapes { get; }

    /// <inheritdoc />
    public bool Equals(GraphNode? other) =>
        other is not null && Inputs.SequenceEqual(other.Inputs) && InputShapes.SequenceEqual(other.InputShapes)
        && OutputShapes.SequenceEqual(other.OutputShapes);
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as GraphNode);
    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Inputs.Length, OutputShapes.Length > 0 ? OutputShapes[0] : null);
}

/// <summary>A layer (or a nested model) of a <see cref="Model"/>, with its resolved name and every place it is applied.</summary>
public sealed class GraphLayer : IEquatable<GraphLayer>
{
    internal GraphLayer(GraphOperation operation, ImmutableArray<GraphNode> nodes)
    {
        Operation = operation;
        Nodes = nodes;
        (ParameterCount, TrainableParameterCount) = operation.CountParameters(nodes[0].InputShapes);
    }

    private GraphLayer(GraphLayer source)
    {
        Operation = source.Operation;
        Nodes = source.Nodes;
        (ParameterCount, TrainableParameterCount) = (source.ParameterCount, source.TrainableParameterCount);
    }

    /// <summary>The model whose graph this entry belongs to (set once, by that model's constructor).</summary>
    internal Model? Owner { get; private set; }

    internal GraphLayer OwnedBy(Model owner)
    {
        var layer = Owner is null ? this : new GraphLayer(this);
        layer.Owner = owner;
        return layer;
    }

    /// <summary>
    /// Keras's <c>layer.output</c>: the tensor this layer produces at its first application in its model's graph, to
    /// declare new models from — <c>new Model(model.Input, model.GetLayer("block5_pool").Output)</c> is a feature
    /// extractor whose layers are the model's own (same names, same records; see <see cref="Models.Model.Input"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The layer has several outputs (use <see cref="GetOutputsAt"/>).</exception>
    public SymbolicTensor Output => Single(GetOutputsAt(0), "outputs", nameof(GetOutputsAt));

    /// <summary>Keras's <c>layer.input</c>: the tensor its first application takes.</summary>
    /// <exception cref="InvalidOperationException">A model input (it takes none) or a layer applied to several tensors (use <see cref="GetInputsAt"/>).</exception>
    public SymbolicTensor Input => Single(GetInputsAt(0), "inputs", nameof(GetInputsAt));

    /// <summary>Keras's <c>get_output_at(node_index)</c>: every tensor application <paramref name="nodeIndex"/> produces.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The layer has no such application.</exception>
    public IReadOnlyList<SymbolicTensor> GetOutputsAt(int nodeIndex)
    {
        CheckNode(nodeIndex);
        var owner = Owner!;
        return Enumerable.Range(0, Nodes[nodeIndex].OutputShapes.Length).Select(i => owner.TensorAt(new TensorRef(Name, nodeIndex, i))).ToList();
    }

    /// <summary>Keras's <c>get_input_at(node_index)</c>: the tensors application <paramref name="nodeIndex"/> takes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The layer has no such application.</exception>
    public IReadOnlyList<SymbolicTensor> GetInputsAt(int nodeIndex)
    {
        CheckNode(nodeIndex);
        var owner = Owner!;
        return Nodes[nodeIndex].Inputs.Select(owner.TensorAt).ToList();
    }

    private void CheckNode(int nodeIndex)
    {
        if (nodeIndex < 0 || nodeIndex >= Nodes.Length)
            throw new ArgumentOutOfRangeException(nameof(nodeIndex),
                $"Asked to get node {nodeIndex} of layer '{Name}', but the layer has only {Nodes.Length} inbound node(s).");
    }

    private SymbolicTensor Single(IReadOnlyList<SymbolicTensor> tensors, string what, string instead) =>
        tensors.Count == 1 ? tensors[0]
        : throw new InvalidOperationException(
            $"Layer '{Name}' has {tensors.Count} {what} at its first application; use {instead}(0) for {(tensors.Count == 0 ? "them" : "all of them")}.");

    /// <summary>What it applies: the named <see cref="Layers.Layer"/> record or the nested <see cref="IModel"/>.</summary>
    public GraphOperation Operation { get; }

    /// <summary>The layer, or null for a nested model.</summary>
    public Layer? Layer => Operation.Layer;

    /// <summary>The nested model, or null for a layer.</summary>
    public IModel? Model => Operation.Model;

    /// <summary>True for a model input.</summary>
    public bool IsInput => Operation.IsInput;

    /// <summary>The unique name within the model.</summary>
    public string Name => Operation.Name!;

    /// <summary>Keras's class name: the layer's, or <c>Functional</c>/<c>Sequential</c> for a nested model.</summary>
    public string ClassName => Operation.ClassName;

    /// <summary>Every application, in order; node <c>i</c> is <c>name[i]</c> in <see cref="TensorRef"/>s.</summary>
    public ImmutableArray<GraphNode> Nodes { get; }

    /// <summary>All its weights (counted once however often it is applied).</summary>
    public long ParameterCount { get; }

    /// <summary>Its weights updated by training.</summary>
    public long TrainableParameterCount { get; }

    /// <inheritdoc />
    public bool Equals(GraphLayer? other) =>
        other is not null && Operation.Equals(other.Operation) && Nodes.SequenceEqual(other.Nodes);
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as GraphLayer);
    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Nodes.Length);
    /// <summary>E.g. <c>conv2d (Conv2D)</c>.</summary>
    public override string ToString() => $"{Name} ({ClassName})";
}

/// <summary>Identifies one node of a <see cref="Model"/>: operation <see cref="Operation"/>'s node <see cref="Node"/>.</summary>
/// <param name="Operation">Index into <see cref="Model.Operations"/>.</param>
/// <param name="Node">Index into that operation's <see cref="GraphLayer.Nodes"/>.</param>
public readonly record struct NodeIndex(int Operation, int Node);

/// <summary>
/// A model that is a graph of layers (Keras's functional API, class <c>Functional</c>): any number of inputs and
/// outputs, branches, merges, shared layers and nested models. Declared from symbolic tensors —
/// <c>var x = Graph.Input(28, 28, 1); var y = new Conv2D(32, 3).Call(x); var model = new Model(x, y);</c> — and
/// validated when declared, without libtorch: every shape is inferred, and a layer that cannot take its input, a merge
/// of mismatched shapes, an input that reaches no output, an output that needs an input the model was not given, or a
/// shared layer whose weights cannot fit all its uses is rejected with a message naming the layer and shapes.
/// </summary>
/// <remarks>
/// <para><b>Shared layers.</b> A layer is identified by its record <em>instance</em>: applying one instance several
/// times shares its weights (Keras semantics); equal but separately created records are distinct layers. After
/// declaration the model refers to layers by their unique names (<see cref="TensorRef"/>), which is also how the JSON
/// config wires them.</para>
/// <para><b>Cycles</b> cannot be built from tensors (a tensor exists only after its inputs and nothing is mutable);
/// configs loaded from JSON can describe one, and are rejected naming the layers on the cycle.</para>
/// <para>Models compare by value: name, layers (in Keras's order), wiring, inputs and outputs. Keras differs in one
/// respect: it accepts inputs that reach no output; this model rejects them, since such an input is a mistake.</para>
/// </remarks>
public sealed class Model : IModel, IEquatable<Model>
{
    /// <summary>A single-input, single-output model (Keras <c>keras.Model(inputs, outputs)</c>).</summary>
    public Model(SymbolicTensor input, SymbolicTensor output, string name = "functional")
        : this(Wiring.FromTensors([input], [output], name)) { }

    /// <summary>A model with any number of inputs and outputs, in the order given.</summary>
    public Model(IEnumerable<SymbolicTensor> inputs, IEnumerable<SymbolicTensor> outputs, string name = "functional")
        : this(Wiring.FromTensors(inputs, outputs, name)) { }

    private Model(Wiring w) : this(w.Name, w.Operations, w.Inputs, w.Outputs, w.SourceInputs)
    {
        // Layers taken from a model with a weights file (its GetLayer(..).Output tensors) keep those weights, as Keras's
        // layers keep theirs: this model loads that file by name when built; its own new layers keep their initializers.
        if (w.WeightsFile is { } file) (WeightsFile, WeightsFileByName) = (file, true);
    }

    /// <summary>
    /// The model from its wiring: named operations (layers, inputs or nested models), each with the inputs of each of
    /// its applications. Validates everything; used by the tensor API and the JSON loader.
    /// </summary>
    internal Model(string name, IReadOnlyList<WiredOperation> operations, IReadOnlyList<TensorRef> inputs, IReadOnlyList<TensorRef> outputs,
        IReadOnlyList<SymbolicTensor>? sourceInputs = null)
    {
        Name = string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("Expected a non-empty model name.", nameof(name)) : name;
        var built = GraphValidation.Validate(operations, inputs, outputs);
        Operations = built.Operations.Select(o => o.OwnedBy(this)).ToImmutableArray();
        this.sourceInputs = sourceInputs is null ? [] : [.. sourceInputs];
        Inputs = [.. inputs];
        Outputs = [.. outputs];
        ExecutionOrder = built.ExecutionOrder;
        SequentialLike = built.SequentialLike;
        byName = new Dictionary<string, GraphLayer>(Operations.Length);
        foreach (var o in Operations) byName[o.Name] = o;
        (ParameterCount, TrainableParameterCount) = Totals(Name, Operations.Select(o => (o.ToString(), o.ParameterCount, o.TrainableParameterCount)));
        InputShapes = Inputs.Select(ShapeOf).ToImmutableArray();
        OutputShapes = Outputs.Select(ShapeOf).ToImmutableArray();
    }

    /// <summary>This declaration with another weights file; everything else is shared (it was validated once).</summary>
    private Model(Model source, string? weightsFile, bool loadByName)
    {
        Name = source.Name;
        Operations = source.Operations.Select(o => o.OwnedBy(this)).ToImmutableArray();
        sourceInputs = source.sourceInputs;
        Inputs = source.Inputs;
        Outputs = source.Outputs;
        ExecutionOrder = source.ExecutionOrder;
        SequentialLike = source.SequentialLike;
        byName = Operations.ToDictionary(o => o.Name);
        (ParameterCount, TrainableParameterCount) = (source.ParameterCount, source.TrainableParameterCount);
        InputShapes = source.InputShapes;
        OutputShapes = source.OutputShapes;
        WeightsFile = weightsFile;
        WeightsFileByName = weightsFile is not null && loadByName;
    }

    private readonly Dictionary<string, GraphLayer> byName;

    /// <summary>
    /// The weights file the builder loads into this model right after initialising it (Keras's
    /// <c>ResNet50(weights=path)</c>), as a full path; <c>null</c> (the default) keeps Keras's initializers. Set by
    /// <see cref="WithWeightsFile"/> and by <see cref="Applications"/>' <c>weights: "path"</c>. It is not part of the
    /// config (Keras writes weights apart) nor of equality.
    /// </summary>
    public string? WeightsFile { get; }

    /// <summary>
    /// True when <see cref="WeightsFile"/> is loaded by layer name (Keras's <c>by_name=True</c>): layers the file lacks keep
    /// their initial values and the file's other layers are ignored. Set for a model declared from another model's layers
    /// (<see cref="GraphLayer.Output"/>) and by <see cref="WithWeightsFile(string?, bool)"/>.
    /// </summary>
    public bool WeightsFileByName { get; }

    /// <summary>
    /// The same declaration, built with the weights of <paramref name="path"/> (a file saved by this library, matched by
    /// Keras weight name and shape when the model is built), or with initializers for <c>null</c>.
    /// </summary>
    /// <remarks>With <paramref name="byName"/> the file is matched by layer name (Keras's <c>by_name=True</c>): the model's
    /// layers the file lacks keep their initializers, and the file's layers the model lacks are ignored. A file of this
    /// library (safetensors) or a Keras HDF5/<c>.keras</c> file (recognised by content) may be given.</remarks>
    /// <exception cref="ArgumentException">The path is empty or names no file.</exception>
    public Model WithWeightsFile(string? path, bool byName = false)
    {
        if (path is not null && (path.Length == 0 || !File.Exists(path)))
            throw new ArgumentException($"Model '{Name}': expected the path of an existing weights file. Received: path='{Excerpt.Of(path)}' (no such file).", nameof(path));
        return WithWeightsFileUnchecked(path is null ? null : Path.GetFullPath(path), byName);
    }

    /// <summary>Keras's <c>model.input</c>: the tensor of the model's only input, to declare new models on this graph.</summary>
    /// <exception cref="InvalidOperationException">The model has several inputs (use <see cref="InputTensors"/>).</exception>
    public SymbolicTensor Input => Inputs.Length == 1 ? TensorAt(Inputs[0])
        : throw new InvalidOperationException($"Model '{Name}' has {Inputs.Length} inputs; use InputTensors.");

    /// <summary>Keras's <c>model.inputs</c>: the tensors of the model's inputs, in order (for a model declared from tensors, those very tensors).</summary>
    public IReadOnlyList<SymbolicTensor> InputTensors => Inputs.Select(TensorAt).ToList();

    /// <summary>Keras's <c>model.output</c>: the tensor of the model's only output.</summary>
    /// <exception cref="InvalidOperationException">The model has several outputs (use <see cref="OutputTensors"/>).</exception>
    public SymbolicTensor Output => Outputs.Length == 1 ? TensorAt(Outputs[0])
        : throw new InvalidOperationException($"Model '{Name}' has {Outputs.Length} outputs; use OutputTensors.");

    /// <summary>Keras's <c>model.outputs</c>.</summary>
    public IReadOnlyList<SymbolicTensor> OutputTensors => Outputs.Select(TensorAt).ToList();

    private readonly ImmutableArray<SymbolicTensor> sourceInputs;   // the tensors a model declared from tensors was given
    private Dictionary<TensorRef, SymbolicTensor>? tensors;

    /// <summary>
    /// The symbolic tensor for a reference into this graph. The graph is traced once, on first use: each node applies
    /// the model's own (named) layer records again, so a model declared from these tensors has the same layers under
    /// the same names — and loads this model's weights file by name, if it has one.
    /// </summary>
    internal SymbolicTensor TensorAt(TensorRef reference) =>
        LazyInitializer.EnsureInitialized(ref tensors, Trace).TryGetValue(reference, out var t) ? t
        : throw new ArgumentException($"Model '{Name}' has no tensor {reference}.", nameof(reference));

    private Dictionary<TensorRef, SymbolicTensor> Trace()
    {
        var map = new Dictionary<TensorRef, SymbolicTensor>();
        var given = new Dictionary<string, SymbolicTensor>(StringComparer.Ordinal);
        if (sourceInputs.Length == Inputs.Length)
            for (var i = 0; i < Inputs.Length; i++) given[Inputs[i].Layer] = sourceInputs[i];
        foreach (var at in ExecutionOrder)
        {
            var op = Operations[at.Operation];
            IReadOnlyList<SymbolicTensor> outputs = op.Layer is Functional.Layers.Input input
                ? [given.TryGetValue(op.Name, out var t) ? t : Graph.TensorOf(input)]
                : Graph.Apply(op.Operation, op.Nodes[at.Node].Inputs.Select(r => map[r]).ToList(), origin: this).Outputs;
            for (var i = 0; i < outputs.Count; i++) map[new TensorRef(op.Name, at.Node, i)] = outputs[i];
        }
        return map;
    }

    /// <summary>The model itself: it is a graph.</summary>
    public Model AsGraph() => this;

    /// <summary>The model's name (<c>functional</c> by default).</summary>
    public string Name { get; }

    /// <summary>Every layer, model input and nested model once, in Keras's order (inputs first, by depth).</summary>
    public ImmutableArray<GraphLayer> Operations { get; }

    /// <summary>The model's inputs (each the output of an input layer), in order.</summary>
    public ImmutableArray<TensorRef> Inputs { get; }

    /// <summary>The model's outputs, in order.</summary>
    public ImmutableArray<TensorRef> Outputs { get; }

    /// <summary>Every node in an order in which each node's inputs are computed before it.</summary>
    public ImmutableArray<NodeIndex> ExecutionOrder { get; }

    /// <summary>True when the graph is a plain chain (Keras then prints no <c>Connected to</c> column).</summary>
    public bool SequentialLike { get; }

    /// <inheritdoc />
    public IReadOnlyList<Shape> InputShapes { get; }

    /// <inheritdoc />
    public IReadOnlyList<Shape> OutputShapes { get; }

    /// <summary>Every layer record once, model inputs included (as Keras's <c>model.layers</c>); nested models are in <see cref="Operations"/>.</summary>
    public IEnumerable<Layer> Layers => Operations.Select(o => o.Layer).OfType<Layer>();

    /// <summary>The operation with the given name.</summary>
    /// <exception cref="KeyNotFoundException">No such layer.</exception>
    public GraphLayer GetLayer(string name) =>
        byName.TryGetValue(name, out var layer) ? layer
        : throw new KeyNotFoundException($"Model '{Name}' has no layer named '{Excerpt.Of(name)}'. Layers: {Excerpt.List(Operations.Select(o => o.Name))}.");

    /// <summary>The shape of the tensor a reference points to.</summary>
    public Shape ShapeOf(TensorRef tensor) => GetLayer(tensor.Layer).Nodes[tensor.Node].OutputShapes[tensor.Tensor];

    /// <inheritdoc />
    public long ParameterCount { get; }

    /// <inheritdoc />
    public long TrainableParameterCount { get; }

    /// <summary>
    /// A model's weight totals, exact in 64 bits, or an <see cref="ArgumentException"/> naming the model and the layer at
    /// which the total passes what a 64-bit count holds (every total is checked when the model is declared).
    /// </summary>
    internal static (long Total, long Trainable) Totals(string model, IEnumerable<(string Layer, long Total, long Trainable)> layers)
    {
        long total = 0, trainable = 0;
        foreach (var (layer, count, train) in layers)
        {
            if (count > long.MaxValue - total)
                throw new ArgumentException(
                    $"Model '{model}' has more weights than a 64-bit count holds ({long.MaxValue:N0}): the total passes it at {layer}, " +
                    $"which adds {count:N0} to {total:N0}.");
            total += count;
            trainable += train;
        }
        return (total, trainable);
    }

    /// <summary>Weights not updated by training.</summary>
    public long NonTrainableParameterCount => ParameterCount - TrainableParameterCount;

    /// <summary>The same graph under another model name.</summary>
    public Model WithName(string name) =>
        new Model(name, Operations.Select(WiredOperation.Of).ToList(), Inputs, Outputs, sourceInputs).WithWeightsFileUnchecked(WeightsFile, WeightsFileByName);

    /// <summary>
    /// Keras's <c>model.trainable = trainable</c>: the same model with every layer (nested models' too) trainable or
    /// frozen. Frozen layers' weights count as non-trainable, training leaves them alone, and a frozen
    /// BatchNormalization runs in inference mode (Keras's fine-tuning rule). The weights file is kept.
    /// </summary>
    public Model WithTrainable(bool trainable) =>
        new Model(Name, Operations.Select(o => WiredOperation.Of(o) with { Operation = o.Operation.WithTrainable(trainable) }).ToList(),
            Inputs, Outputs, sourceInputs).WithWeightsFileUnchecked(WeightsFile, WeightsFileByName);

    private Model WithWeightsFileUnchecked(string? path, bool byName = false) =>
        path == WeightsFile && byName == WeightsFileByName ? this : new Model(this, path, byName);

    /// <summary>
    /// The Keras summary as data: one row per layer in Keras's order, model inputs included, nested models as one row
    /// with their total parameter count; <c>Connected to</c> lists each application's inputs (<c>conv2d[0][0]</c>).
    /// </summary>
    public ModelSummary Summarize() => new(Name,
        Operations.Select(o => new SummaryRow(o.Name, o.ClassName, o.Nodes[^1].OutputShapes, o.ParameterCount,
            SequentialLike ? [] : o.Nodes.SelectMany(n => n.Inputs).Select(r => r.ToString()).ToImmutableArray())).ToImmutableArray(),
        ParameterCount, TrainableParameterCount);

    /// <summary>The Keras summary as text (<c>model.summary()</c>). Needs no libtorch.</summary>
    public string Summary() => Summarize().ToString();

    /// <inheritdoc />
    public bool Equals(Model? other) =>
        other is not null && Name == other.Name && Operations.SequenceEqual(other.Operations)
        && Inputs.SequenceEqual(other.Inputs) && Outputs.SequenceEqual(other.Outputs);
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Model);
    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Operations.Length, Inputs.Length, Outputs.Length);

    /// <summary>The summary.</summary>
    public override string ToString() => Summary();

    /// <summary>The graph as named operations and references: what the constructor needs.</summary>
    private sealed record Wiring(string Name, IReadOnlyList<WiredOperation> Operations, IReadOnlyList<TensorRef> Inputs, IReadOnlyList<TensorRef> Outputs,
        IReadOnlyList<SymbolicTensor> SourceInputs, string? WeightsFile)
    {
        public static Wiring FromTensors(IEnumerable<SymbolicTensor> inputs, IEnumerable<SymbolicTensor> outputs, string name)
        {
            ArgumentNullException.ThrowIfNull(inputs);
            ArgumentNullException.ThrowIfNull(outputs);
            var ins = inputs.ToList();
            var outs = outputs.ToList();
            if (ins.Count == 0) throw new ArgumentException("A model needs at least one input.", nameof(inputs));
            if (outs.Count == 0) throw new ArgumentException("A model needs at least one output.", nameof(outputs));
            if (ins.Any(t => t is null) || outs.Any(t => t is null)) throw new ArgumentException("Model inputs and outputs may not be null.");
            foreach (var t in ins)
                if (!t.Node.IsInput)
                    throw new ArgumentException(
                        $"Model inputs must be tensors made by Input(...); received {t}. To start a model from an intermediate tensor, declare an Input of shape {t.Shape} instead.",
                        nameof(inputs));
            var inputNodes = new HashSet<Node>(ReferenceEqualityComparer.Instance);
            foreach (var t in ins)
                if (!inputNodes.Add(t.Node))
                    throw new ArgumentException($"The same input {t} is passed twice in the model's inputs.", nameof(inputs));

            // Every node the outputs depend on, and the model's inputs (validation reports inputs that reach no output,
            // and outputs that depend on an input the model was not given).
            var nodes = new HashSet<Node>(inputNodes, ReferenceEqualityComparer.Instance);
            var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
            var stack = new Stack<Node>(outs.Select(t => t.Node));
            while (stack.Count > 0)
            {
                var node = stack.Pop();
                if (!visited.Add(node)) continue;
                nodes.Add(node);
                foreach (var t in node.Inputs) stack.Push(t.Node);
            }

            // Operations in order of first use; Keras names unnamed layers in the order they are created and called.
            var ordered = nodes.OrderBy(n => n.Sequence).ToList();
            // A layer is identified by its record instance (applying one instance twice shares its weights).
            var operations = ordered.Select(n => n.Operation).DistinctBy(o => o.Target, ReferenceEqualityComparer.Instance).ToList();
            var layers = operations.Select(o => o.Layer).OfType<Layer>().ToList();
            var named = LayerNaming.AssignNames(layers, operations.Select(o => o.Model).OfType<IModel>().Select(m => m.Name)).ToList();
            var nameOf = new Dictionary<object, string>(ReferenceEqualityComparer.Instance);
            var namedOp = new Dictionary<object, GraphOperation>(ReferenceEqualityComparer.Instance);
            for (var i = 0; i < layers.Count; i++) { nameOf[layers[i]] = named[i].Name!; namedOp[layers[i]] = named[i]; }
            foreach (var o in operations.Where(o => o.Model is not null)) { nameOf[o.Target] = o.Name!; namedOp[o.Target] = o; }

            var nodesOf = ordered.GroupBy(n => n.Operation.Target, ReferenceEqualityComparer.Instance)
                .ToDictionary(g => g.Key!, g => g.ToList(), ReferenceEqualityComparer.Instance);
            var nodeIndex = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
            foreach (var list in nodesOf.Values)
                for (var i = 0; i < list.Count; i++) nodeIndex[list[i]] = i;
            TensorRef Ref(SymbolicTensor t) => new(nameOf[t.Node.Operation.Target], nodeIndex[t.Node], t.Index);

            var wired = operations.Select(op => new WiredOperation(namedOp[op.Target],
                nodesOf[op.Target].Select(n => (IReadOnlyList<TensorRef>)n.Inputs.Select(Ref).ToList()).ToList())).ToList();
            // Nodes traced from a model with a weights file carry its layers' weights (see Model.TensorAt).
            var files = nodes.Select(n => n.Origin?.WeightsFile).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            if (files.Count > 1)
                throw new ArgumentException(
                    $"The model takes layers from models with different weights files ({string.Join(", ", files.Select(f => $"'{f}'"))}); " +
                    "one model loads one file: declare each part as its own model and nest them.");
            return new Wiring(name, wired, ins.Select(Ref).ToList(), outs.Select(Ref).ToList(), ins, files.SingleOrDefault());
        }
    }
}

/// <summary>A named operation (layer record with its name, input record, or nested model) and the inputs of each of its applications.</summary>
internal sealed record WiredOperation(GraphOperation Operation, IReadOnlyList<IReadOnlyList<TensorRef>> Nodes)
{
    public string Name => Operation.Name ?? "";
    public static WiredOperation Of(GraphLayer layer) =>
        new(layer.Operation, layer.Nodes.Select(n => (IReadOnlyList<TensorRef>)n.Inputs).ToList());
}

/// <summary>Everything a graph must satisfy, checked once for both ways of declaring one (tensors and configs).</summary>
internal static class GraphValidation
{
    public sealed record Result(ImmutableArray<GraphLayer> Operations, ImmutableArray<NodeIndex> ExecutionOrder, bool SequentialLike);

    public static Result Validate(IReadOnlyList<WiredOperation> operations, IReadOnlyList<TensorRef> inputs, IReadOnlyList<TensorRef> outputs)
    {
        if (inputs.Count == 0) throw new ArgumentException("A model needs at least one input.", nameof(inputs));
        if (outputs.Count == 0) throw new ArgumentException("A model needs at least one output.", nameof(outputs));

        // Names: every operation has one, and no two share it.
        var index = new Dictionary<string, int>();
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i];
            if (op.Operation.Name is null)
                throw new ArgumentException($"Every layer of a graph needs a name; {op.Operation.Describe()} has none.");
            if (!index.TryAdd(op.Name, i))
                throw new ArgumentException($"All layers in a model must have unique names. The name '{op.Name}' is used by more than one layer.");
            if (op.Operation.IsInput)
            {
                if (op.Nodes.Count != 1 || op.Nodes[0].Count != 0)
                    throw new ArgumentException($"Input '{op.Name}' is a model input: it has exactly one node and is applied to nothing.");
            }
            else
            {
                if (op.Nodes.Count == 0)
                    throw new ArgumentException($"{op.Operation.Describe()} is never applied to anything; a graph holds only layers that are used.");
                if (op.Nodes.Any(n => n.Count == 0))
                    throw new ArgumentException($"{op.Operation.Describe()} has an application with no inputs.");
            }
        }

        int OutputCount(int op) => operations[op].Operation.OutputCount;
        (int Op, int Node) Producer(TensorRef r, string where)
        {
            if (!index.TryGetValue(r.Layer, out var op))
                throw new ArgumentException($"{where} refers to {r}, but the model has no layer named '{r.Layer}'.");
            if (r.Node < 0 || r.Node >= operations[op].Nodes.Count)
                throw new ArgumentException($"{where} refers to {r}, but '{r.Layer}' has {operations[op].Nodes.Count} node(s).");
            if (r.Tensor < 0 || r.Tensor >= OutputCount(op))
                throw new ArgumentException($"{where} refers to {r}, but '{r.Layer}' has {OutputCount(op)} output(s).");
            return (op, r.Node);
        }

        // Every reference resolves.
        var parents = operations.Select((op, o) => op.Nodes.Select((n, k) =>
            n.Select((r, j) => Producer(r, $"Input {j} of '{op.Name}' (node {k})")).ToArray()).ToArray()).ToArray();
        var inputProducers = inputs.Select((r, i) => Producer(r, $"Model input {i}")).ToList();
        var outputProducers = outputs.Select((r, i) => Producer(r, $"Model output {i}")).ToList();
        var inputSet = new HashSet<(int Op, int Node)>();
        for (var i = 0; i < inputs.Count; i++)
        {
            if (!operations[inputProducers[i].Op].Operation.IsInput)
                throw new ArgumentException($"Model input {i} is {inputs[i]}, which is not an input layer: model inputs must be made by Input(...).");
            if (!inputSet.Add(inputProducers[i]))
                throw new ArgumentException($"Model input {inputs[i]} is listed twice.");
        }

        // Shapes, in dependency order (Kahn's algorithm: linear in the graph, no recursion); nodes that never become
        // computable lie on (or behind) a cycle.
        var outShapes = operations.Select(op => new ImmutableArray<Shape>[op.Nodes.Count]).ToArray();
        var inShapes = operations.Select(op => new ImmutableArray<Shape>[op.Nodes.Count]).ToArray();
        var waiting = operations.Select((op, o) => parents[o].Select(p => p.Length).ToArray()).ToArray();
        var children = operations.Select(op => op.Nodes.Select(_ => new List<(int Op, int Node)>()).ToArray()).ToArray();
        for (var o = 0; o < operations.Count; o++)
            for (var k = 0; k < parents[o].Length; k++)
                foreach (var p in parents[o][k]) children[p.Op][p.Node].Add((o, k));
        var ready = new Queue<(int Op, int Node)>();
        for (var o = 0; o < operations.Count; o++)
            for (var k = 0; k < parents[o].Length; k++)
                if (waiting[o][k] == 0) ready.Enqueue((o, k));
        var computed = 0;
        while (ready.Count > 0)
        {
            var (o, k) = ready.Dequeue();
            var shapes = parents[o][k].Select((p, j) => outShapes[p.Op][p.Node][operations[o].Nodes[k][j].Tensor]).ToImmutableArray();
            inShapes[o][k] = shapes;
            outShapes[o][k] = [.. operations[o].Operation.OutputShapes(shapes)];
            computed++;
            foreach (var c in children[o][k])
                if (--waiting[c.Op][c.Node] == 0) ready.Enqueue(c);
        }
        if (computed < parents.Sum(p => p.Length))
        {
            var stuck = Enumerable.Range(0, operations.Count)
                .SelectMany(o => Enumerable.Range(0, parents[o].Length).Select(k => (Op: o, Node: k)))
                .First(n => outShapes[n.Op][n.Node].IsDefault);
            throw new ArgumentException(DescribeCycle(operations, parents, outShapes, stuck));
        }

        // Reachability from the outputs: every node must contribute, and only model inputs may be reached as inputs.
        var reached = new HashSet<(int, int)>();
        var stack = new Stack<((int Op, int Node) Node, int Output)>();
        for (var i = 0; i < outputProducers.Count; i++) stack.Push((outputProducers[i], i));
        while (stack.Count > 0)
        {
            var (n, output) = stack.Pop();
            if (!reached.Add(n)) continue;
            if (operations[n.Op].Operation.IsInput && !inputSet.Contains(n))
                throw new ArgumentException(
                    $"Graph disconnected: output {output} ({outputs[output]}) depends on input '{operations[n.Op].Name}' of shape {outShapes[n.Op][0][0]}, " +
                    "which is not among the model's inputs. Pass it in the inputs.");
            foreach (var p in parents[n.Op][n.Node]) stack.Push((p, output));
        }
        for (var i = 0; i < inputs.Count; i++)
            if (!reached.Contains(inputProducers[i]))
                throw new ArgumentException(
                    $"Input {i} ('{inputs[i].Layer}' of shape {outShapes[inputProducers[i].Op][0][0]}) does not reach any output of the model. Remove it or connect it.");
        foreach (var (o, op) in operations.Select((op, o) => (o, op)))
            for (var k = 0; k < op.Nodes.Count; k++)
                if (!reached.Contains((o, k)))
                    throw new ArgumentException($"{op.Operation.Describe()} (node {k}) does not contribute to any output of the model.");

        // A shared layer has one set of weights, so every use must ask for the same weights.
        foreach (var (o, op) in operations.Select((op, o) => (o, op)))
            if (op.Operation.Layer is { } layer && op.Nodes.Count > 1)
            {
                var first = Signature(layer, inShapes[o][0]);
                for (var k = 1; k < op.Nodes.Count; k++)
                    if (Signature(layer, inShapes[o][k]) is var other && other != first)
                        throw new ArgumentException(
                            $"{layer.Describe()} is shared, but its use {k} on input shape(s) {Shapes(inShapes[o][k])} needs weights [{other}], " +
                            $"while its first use on {Shapes(inShapes[o][0])} made [{first}]. A shared layer's weights must fit every use.");
            }

        var (order, execution, sequentialLike) = KerasOrder(operations, parents, outputProducers);
        var graphLayers = order.Select(o => new GraphLayer(operations[o].Operation,
            operations[o].Nodes.Select((n, k) => new GraphNode([.. n], inShapes[o][k], outShapes[o][k])).ToImmutableArray())).ToImmutableArray();
        var position = new int[operations.Count];
        for (var i = 0; i < order.Count; i++) position[order[i]] = i;
        return new Result(graphLayers, execution.Select(n => new NodeIndex(position[n.Op], n.Node)).ToImmutableArray(), sequentialLike);
    }

    private static string Shapes(ImmutableArray<Shape> shapes) => shapes.Length == 1 ? shapes[0].ToString() : $"[{string.Join(", ", shapes)}]";

    private static string Signature(Layer layer, ImmutableArray<Shape> shapes) =>
        string.Join(", ", layer.Parameters(shapes).Select(p => $"{p.Name} {p.Shape.ToSampleString()}"));

    private static string DescribeCycle(IReadOnlyList<WiredOperation> operations, (int Op, int Node)[][][] parents,
        ImmutableArray<Shape>[][] outShapes, (int Op, int Node) start)
    {
        // Walk back through inputs that are not computable until a node repeats: that loop is the cycle.
        var path = new List<(int Op, int Node)>();
        var position = new Dictionary<(int Op, int Node), int>();
        var n = start;
        while (position.TryAdd(n, path.Count))
        {
            path.Add(n);
            n = parents[n.Op][n.Node].First(p => outShapes[p.Op][p.Node].IsDefault);
        }
        var cycle = path.Skip(position[n]).Append(n).Select(c => $"'{operations[c.Op].Name}'[{c.Node}]").ToList();
        // A long cycle is named by its first and last few layers, so the message stays short.
        var shown = cycle.Count <= 12 ? cycle : [.. cycle.Take(6), $"… ({cycle.Count - 11} more) …", .. cycle.TakeLast(5)];
        return $"The graph has a cycle of {cycle.Count - 1} node(s): {string.Join(" takes the output of ", shown)}. A layer cannot depend on its own output.";
    }

    /// <summary>Keras's <c>map_graph</c>: depth-first from the outputs; operations by decreasing depth, ties by first visit.</summary>
    private static (List<int> Order, List<(int Op, int Node)> Execution, bool SequentialLike) KerasOrder(
        IReadOnlyList<WiredOperation> operations, (int Op, int Node)[][][] parents, List<(int Op, int Node)> outputs)
    {
        var firstSeen = new Dictionary<int, int>();
        var finished = new HashSet<(int, int)>();
        var postOrder = new List<(int Op, int Node)>();
        // Depth-first with an explicit stack (a deep graph would overflow the call stack): each frame is a node and the
        // index of the next parent to visit; a node is finished, and appended, once all its parents are.
        var stack = new Stack<((int Op, int Node) Node, int Next)>();
        foreach (var o in outputs)
        {
            if (finished.Contains(o)) continue;
            firstSeen.TryAdd(o.Op, firstSeen.Count);
            stack.Push((o, 0));
            while (stack.Count > 0)
            {
                var (n, next) = stack.Pop();
                var ps = parents[n.Op][n.Node];
                if (next < ps.Length)
                {
                    stack.Push((n, next + 1));
                    var p = ps[next];
                    if (finished.Contains(p)) continue;
                    firstSeen.TryAdd(p.Op, firstSeen.Count);
                    stack.Push((p, 0));
                }
                else if (finished.Add(n)) postOrder.Add(n);
            }
        }

        var nodeDepth = new Dictionary<(int, int), int>();
        var opDepth = new Dictionary<int, int>();
        for (var i = postOrder.Count - 1; i >= 0; i--)
        {
            var n = postOrder[i];
            var depth = Math.Max(nodeDepth.GetValueOrDefault(n), opDepth.GetValueOrDefault(n.Op));
            opDepth[n.Op] = depth;
            nodeDepth[n] = depth;
            foreach (var p in parents[n.Op][n.Node])
                nodeDepth[p] = Math.Max(depth + 1, nodeDepth.GetValueOrDefault(p));
        }

        var order = opDepth.Keys.OrderByDescending(o => opDepth[o]).ThenBy(o => firstSeen[o]).ToList();
        var rank = order.Select((o, i) => (o, i)).ToDictionary(x => x.o, x => x.i);
        var execution = nodeDepth.Keys.OrderByDescending(n => nodeDepth[n]).ThenBy(n => rank[n.Item1]).ThenBy(n => n.Item2).ToList();
        var sequentialLike = nodeDepth.GroupBy(kv => kv.Value).All(g => g.Count() == 1 && parents[g.Single().Key.Item1][g.Single().Key.Item2].Length <= 1)
            && operations.All(op => op.Nodes.Count <= 1);
        return (order, execution, sequentialLike);
    }
}
