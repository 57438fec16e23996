
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
namespace Functional.Models;

/// <summary>
/// What a node of a graph applies: a <see cref="Layers.Layer"/> record (a model input is one: <see cref="Input"/>) or a
/// whole <see cref="IModel"/> used as a layer. A closed set of two cases; code that needs to tell them apart calls
/// <see cref="Match{T}"/>, and everything a graph asks of an operation (name, class name, output shapes, weight counts)
/// is answered here once.
/// </summary>
/// <remarks>Operations compare by the value of what they wrap. Graph declaration tells shared layers apart by instance,
/// through <see cref="Target"/>.</remarks>
public abstract class GraphOperation : IEquatable<GraphOperation>
{
    private GraphOperation() { }

    /// <summary>A layer (or a model input) as a graph operation.</summary>
    public static GraphOperation Of(Layer layer) => new LayerOperation(layer ?? throw new ArgumentNullException(nameof(layer)));

    /// <summary>A model used as a layer.</summary>
    public static GraphOperation Of(IModel model) => new ModelOperation(model ?? throw new ArgumentNullException(nameof(model)));

    /// <summary>A layer record is a graph operation.</summary>
    public static implicit operator GraphOperation(Layer layer) => Of(layer);

    /// <summary>The layer, or null for a nested model.</summary>
    public Layer? Layer => (this as LayerOperation)?.Value;

    /// <summary>The nested model, or null for a layer.</summary>
    public IModel? Model => (this as ModelOperation)?.Value;

    /// <summary>True for a model input (an <see cref="Input"/> record).</summary>
    public bool IsInput => Layer is Input;

    /// <summary>The layer's or model's name (null for a layer no model has named yet).</summary>
    public abstract string? Name { get; }

    /// <summary>Keras's class name: the layer's, or <c>Functional</c>/<c>Sequential</c> for a model.</summary>
    public abstract string ClassName { get; }

    /// <summary>How many tensors one application produces.</summary>
    public abstract int OutputCount { get; }

    /// <summary>The wrapped record or model instance (its identity tells shared layers apart while a graph is declared).</summary>
    internal abstract object Target { get; }

    /// <summary>One of two functions, by case.</summary>
    public abstract T Match<T>(Func<Layer, T> layer, Func<IModel, T> model);

    /// <summary>For messages: <c>Conv2D 'conv2d'</c>, <c>Functional 'encoder'</c>.</summary>
    public abstract string Describe();

    /// <summary>The output shapes for the given input shapes, checked (a layer's <see cref="ShapeException"/>, a model's input check).</summary>
    internal abstract IReadOnlyList<Shape> OutputShapes(IReadOnlyList<Shape> inputs);

    /// <summary>The same operation with its layer (or every layer of its model) trainable or frozen; inputs are unchanged.</summary>
    internal GraphOperation WithTrainable(bool trainable) => Match(
        layer => Of(layer.WithTrainable(trainable)),
        model => Of(model.WithTrainable(trainable)));

    /// <summary>All weights and the trainable ones, for the given input shapes (a model counts its own).</summary>
    internal abstract (long Total, long Trainable) CountParameters(IReadOnlyList<Shape> inputs);

    /// <inheritdoc />
    public abstract bool Equals(GraphOperation? other);
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as GraphOperation);
    /// <inheritdoc />
    public override int GetHashCode() => Target.GetHashCode();
    /// <summary>Same as <see cref="Describe"/>.</summary>
    public override string ToString() => Describe();

    private sealed class LayerOperation(Layer value) : GraphOperation
    {
        public Layer Value { get; } = value;
        public override string? Name => Value.Name;
        public override string ClassName => Value.ClassName;
        public override int OutputCount => Value.OutputCount;
        internal override object Target => Value;
        public override T Match<T>(Func<Layer, T> layer, Func<IModel, T> model) => layer(Value);
        public override string Describe() => Value.Describe();
        internal override IReadOnlyList<Shape> OutputShapes(IReadOnlyList<Shape> inputs) =>
            Value is Input i ? [i.Shape] : Value.CheckedOutputShapes(inputs);
        internal override (long Total, long Trainable) CountParameters(IReadOnlyList<Shape> inputs) =>
            Value is Input ? (0, 0) : Value.CountParameters(inputs);
        public override bool Equals(GraphOperation? other) => other is LayerOperation l && Value.Equals(l.Value);
    }

    private sealed class ModelOperation(IModel value) : GraphOperation
    {
        public IModel Value { get; } = value;
        public override string Name => Value.Name;
        public override string ClassName => Graph.ClassNameOf(Value);
        public override int OutputCount => Value.OutputShapes.Count;
        internal override object Target => Value;
        public override T Match<T>(Func<Layer, T> layer, Func<IModel, T> model) => model(Value);
        public override string Describe() => $"{ClassName} '{Value.Name}'";
        internal override IReadOnlyList<Shape> OutputShapes(IReadOnlyList<Shape> inputs) => Graph.CheckModelInputs(Value, inputs);
        internal override (long Total, long Trainable) CountParameters(IReadOnlyList<Shape> inputs) =>
            (Value.ParameterCount, Value.TrainableParameterCount);
        public override bool Equals(GraphOperation? other) => other is ModelOperation m && Value.Equals(m.Value);
    }
}
