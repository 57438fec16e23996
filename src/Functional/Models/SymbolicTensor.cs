using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace Functional.Models;

/// <summary>
/// A value in a graph under declaration (Keras's <c>KerasTensor</c>): its per-sample shape and the <see cref="Node"/>
/// that produces it. Making one computes nothing — applying a layer to symbolic tensors only infers shapes, and a
/// layer that cannot take them is rejected at once with a <see cref="ShapeException"/>.
/// </summary>
/// <remarks>
/// Start from <see cref="Graph.Input(int[])"/> (or an <see cref="Input"/> record, which converts implicitly), apply
/// layers with <see cref="LayerCalls.Call(Layer, SymbolicTensor)"/>, and close the graph with <c>new Model(inputs, outputs)</c>.
/// Nothing is mutable: a node's inputs exist before the node, so a graph built from tensors cannot contain a cycle.
/// </remarks>
public sealed class SymbolicTensor
{
    internal SymbolicTensor(Node node, int index, Shape shape)
    {
        Node = node;
        Index = index;
        Shape = shape;
    }

    /// <summary>The per-sample shape (batch excluded).</summary>
    public Shape Shape { get; }

    /// <summary>The application that produces this tensor (an input node for model inputs).</summary>
    public Node Node { get; }

    /// <summary>Which output of <see cref="Node"/> this is (0 except for multi-output models used as layers).</summary>
    public int Index { get; }

    /// <summary>The tensor an <see cref="Layers.Input"/> record stands for: the same tensor every time for the same record instance.</summary>
    public static implicit operator SymbolicTensor(Input input) => Graph.TensorOf(input);

    /// <summary>E.g. <c>&lt;SymbolicTensor (None, 28, 28, 32) from Conv2D&gt;</c>.</summary>
    public override string ToString() => $"<SymbolicTensor {Shape} from {Node.Describe()}>";
}

/// <summary>
/// One application of a layer (or of a whole model) to symbolic tensors — Keras's <c>Node</c>. Applying the same layer
/// instance twice makes two nodes of one layer, which share its weights.
/// </summary>
public sealed class Node
{
    private static long sequence;

    internal Node(GraphOperation operation, ImmutableArray<SymbolicTensor> inputs, IReadOnlyList<Shape> outputShapes)
    {
        Operation = operation;
        Inputs = inputs;
        Sequence = Interlocked.Increment(ref sequence);
        Outputs = outputShapes.Select((s, i) => new SymbolicTensor(this, i, s)).ToImmutableArray();
    }

    /// <summary>The layer or model applied: a <see cref="Layers.Layer"/> record instance or an <see cref="IModel"/>.</summary>
    public GraphOperation Operation { get; }

    /// <summary>The layer applied, or null when <see cref="Operation"/> is a model.</summary>
    public Layer? Layer => Operation.Layer;

    /// <summary>The tensors the operation was applied to (none for an input).</summary>
    public ImmutableArray<SymbolicTensor> Inputs { get; }

    /// <summary>The tensors it produces.</summary>
    public ImmutableArray<SymbolicTensor> Outputs { get; }

    /// <summary>True for the node of an <see cref="Layers.Input"/>.</summary>
    public bool IsInput => Operation.IsInput;

    /// <summary>Creation order: names and node indices follow it, as Keras's follow the order of calls.</summary>
    internal long Sequence { get; }

    /// <summary>The model whose graph this node was traced from (its <c>GetLayer(..).Output</c>), or null.</summary>
    internal Model? Origin { get; init; }

    internal string Describe() => Operation.Describe();
}

/// <summary>
/// Keras's functional API entry points: <see cref="Input(int[])"/> makes a model input; layers are applied with
/// <see cref="LayerCalls.Call(Layer, SymbolicTensor)"/>, models with <see cref="ModelCalls.Call(IModel, SymbolicTensor[])"/>.
/// With <c>using static Functional.Models.Graph;</c> a C# declaration reads like Keras: <c>var x = Input(28, 28, 1);</c>.
/// </summary>
public static class Graph
{
    private static readonly ConditionalWeakTable<Input, SymbolicTensor> InputTensors = new();

    /// <summary>A model input of the given per-sample shape (Keras <c>keras.Input(shape=…)</c>).</summary>
    public static SymbolicTensor Input(params int[] shape) => TensorOf(new Input(shape));

    /// <summary>A model input whose dimensions may be unknown (<c>null</c>, Keras's <c>None</c>): <c>Graph.Input(null, null, 3)</c>.</summary>
    public static SymbolicTensor Input(params int?[] shape) => TensorOf(new Input(shape));

    /// <summary>A named model input of the given per-sample shape.</summary>
    public static SymbolicTensor Input(Shape shape, string? name = null) => TensorOf(new Input(shape) { Name = name });

    /// <summary>The tensor an <see cref="Layers.Input"/> record instance stands for (one per instance).</summary>
    public static SymbolicTensor TensorOf(Input input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return InputTensors.GetValue(input, i => new Node(GraphOperation.Of(i), [], [i.Shape]).Outputs[0]);
    }

    /// <summary>Applies <paramref name="operation"/> (a layer or a model) to tensors, inferring and checking shapes now.</summary>
    internal static Node Apply(GraphOperation operation, IReadOnlyList<SymbolicTensor> inputs, Model? origin = null)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0 || inputs.Any(t => t is null))
            throw new ArgumentException($"{operation.Describe()} must be applied to at least one symbolic tensor, and none may be null.", nameof(inputs));
        if (operation.Layer is Input i)
            throw new ArgumentException(
                $"{i.Describe()} is a model input and cannot be applied to tensors; use the tensor it stands for (Graph.Input(…) or the Input record itself).",
                nameof(operation));
        return new Node(operation, [.. inputs], operation.OutputShapes(inputs.Select(t => t.Shape).ToList())) { Origin = origin };
    }

    /// <summary>The output shapes of a model applied to <paramref name="shapes"/>, which must equal its input shapes.</summary>
    internal static IReadOnlyList<Shape> CheckModelInputs(IModel model, IReadOnlyList<Shape> shapes)
    {
        var expected = model.InputShapes;
        if (shapes.Count != expected.Count)
            throw new ArgumentException(
                $"{ClassNameOf(model)} '{model.Name}' takes {expected.Count} input(s) [{string.Join(", ", expected)}]; received {shapes.Count} [{string.Join(", ", shapes)}].");
        for (var i = 0; i < shapes.Count; i++)
            if (shapes[i] != expected[i])
                throw new ArgumentException(
                    $"{ClassNameOf(model)} '{model.Name}' expects input {i} of shape {expected[i]}, but received shape {shapes[i]}.");
        return model.OutputShapes;
    }

    /// <summary>Keras's class name for a model: <c>Functional</c> for graphs, <c>Sequential</c> for stacks.</summary>
    public static string ClassNameOf(IModel model) => model switch
    {
        Model => "Functional",
        Sequential => "Sequential",
        _ => model.GetType().Name,
    };
}

/// <summary>Applying whole models to symbolic tensors: a model used as a layer inside another model.</summary>
public static class ModelCalls
{
    /// <summary>Applies a single-output model; its layers' weights are shared with every other use of the same model.</summary>
    /// <exception cref="ArgumentException">The model has several outputs (use <see cref="CallMany"/>) or the shapes differ from its inputs.</exception>
    public static SymbolicTensor Call(this IModel model, params SymbolicTensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        var node = Graph.Apply(GraphOperation.Of(model), inputs);
        return node.Outputs.Length == 1
            ? node.Outputs[0]
            : throw new ArgumentException($"{Graph.ClassNameOf(model)} '{model.Name}' has {node.Outputs.Length} outputs; use CallMany.", nameof(model));
    }

    /// <summary>Applies a model with any number of outputs; returns one tensor per output.</summary>
    public static IReadOnlyList<SymbolicTensor> CallMany(this IModel model, params SymbolicTensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Graph.Apply(GraphOperation.Of(model), inputs).Outputs;
    }
}
