using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Collections;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace Functional.Models;

/// <summary>
/// A linear stack of layers after an <see cref="Layers.Input"/> (Keras <c>Sequential</c>). Declaring one names its layers
/// (Keras's defaults: <c>conv2d</c>, <c>conv2d_1</c>, …) and infers every shape, so an invalid stack is rejected
/// right here — without libtorch — by a <see cref="ShapeException"/> that names the layer, the shape and the dimension.
/// </summary>
/// <remarks>Immutable: <see cref="Add"/> returns a new model. Models compare by value.
/// C# collection expressions work: <c>Sequential m = [new Input(28, 28, 1), new Flatten(), new Dense(10)];</c></remarks>
[CollectionBuilder(typeof(Sequential), nameof(Create))]
public sealed class Sequential : IModel, IEquatable<Sequential>, IEnumerable<Layer>
{
    /// <summary>Declares the model: the first item must be an <see cref="Layers.Input"/>.</summary>
    /// <exception cref="ArgumentException">No input, a duplicate name, or a layer that cannot take its input shape.</exception>
    public Sequential(params Layer[] layers) : this("sequential", layers) { }

    /// <summary>Declares a named model: the first item must be an <see cref="Layers.Input"/>.</summary>
    public Sequential(string name, IEnumerable<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Name = string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("Expected a non-empty model name.", nameof(name)) : name;
        var list = layers.ToList();
        if (list.Count == 0 || list[0] is not Input input)
            throw new ArgumentException(
                "A Sequential model must start with an Input that gives the per-sample shape, e.g. new Input(28, 28, 1). " +
                $"Received: {(list.Count == 0 ? "no layers" : $"first layer {list[0].Describe()}")}.", nameof(layers));
        if (list.Skip(1).OfType<Input>().FirstOrDefault() is { } extra)
            throw new ArgumentException($"A Sequential model takes one Input, first. Received another: {extra.Describe()}.", nameof(layers));

        Input = input;
        Layers = LayerNaming.AssignNames(list.Skip(1), input.Name is null ? [] : [input.Name]).ToImmutableArray();
        var shapes = ImmutableArray.CreateBuilder<Shape>(Layers.Length);
        var shape = input.Shape;
        foreach (var layer in Layers)
        {
            shapes.Add(shape);
            shape = layer.CheckedOutputShape([shape]);
        }
        LayerInputShapes = shapes.MoveToImmutable();
        OutputShape = shape;
        (ParameterCount, TrainableParameterCount) = Model.Totals(Name, Layers.Select((l, i) =>
        {
            var (total, trainable) = l.CountParameters([LayerInputShapes[i]]);
            return ($"{l.Describe()}", total, trainable);
        }));
    }

    /// <summary>Collection-expression factory.</summary>
    public static Sequential Create(ReadOnlySpan<Layer> layers) => new(layers.ToArray());

    /// <summary>The model's name (<c>sequential</c> by default).</summary>
    public string Name { get; }

    /// <summary>The input declaration.</summary>
    public Input Input { get; }

    /// <summary>The layers after the input, each with its resolved name.</summary>
    public ImmutableArray<Layer> Layers { get; }

    /// <summary>The input shape of each layer, aligned with <see cref="Layers"/>.</summary>
    public ImmutableArray<Shape> LayerInputShapes { get; }

    /// <summary>The output shape of each layer, aligned with <see cref="Layers"/>.</summary>
    public IEnumerable<Shape> LayerOutputShapes => Layers.Select((l, i) => i + 1 < Layers.Length ? LayerInputShapes[i + 1] : OutputShape);

    /// <inheritdoc />
    public IReadOnlyList<Shape> InputShapes => [Input.Shape];

    /// <inheritdoc />
    public IReadOnlyList<Shape> OutputShapes => [OutputShape];

    IEnumerable<Layer> IModel.Layers => Layers;

    /// <summary>The model's per-sample output shape.</summary>
    public Shape OutputShape { get; }

    /// <summary>
    /// The chain graph this stack declares: its input (named <c>input_layer</c> unless named), then each layer applied to
    /// the previous one's output — one input, one output. Building runs this graph; the Sequential keeps its own summary and
    /// JSON (Keras's). Made on first use and kept.
    /// </summary>
    public Model AsGraph() => LazyInitializer.EnsureInitialized(ref graph, ChainGraph);

    private Model? graph;

    private Model ChainGraph()
    {
        var input = (Input)LayerNaming.AssignNames([Input], Layers.Select(l => l.Name!)).Single();
        var operations = new List<WiredOperation>(Layers.Length + 1) { new(input, [[]]) };
        var previous = new TensorRef(input.Name!, 0, 0);
        foreach (var layer in Layers)
        {
            operations.Add(new WiredOperation(layer, [[previous]]));
            previous = new TensorRef(layer.Name!, 0, 0);
        }
        // The graph's input tensor is the stack's own Input record's (seq.Input converts to it), so new models can mix the two.
        return new Model(Name, operations, [new TensorRef(input.Name!, 0, 0)], [previous], [(SymbolicTensor)Input]);
    }

    /// <summary>
    /// Keras's <c>model.trainable = trainable</c>: the same stack with every layer trainable or frozen (frozen weights count
    /// as non-trainable, training leaves them alone, a frozen BatchNormalization runs in inference mode).
    /// </summary>
    public Sequential WithTrainable(bool trainable) =>
        new(Name, [Input, .. Layers.Select(l => l.WithTrainable(trainable))]);

    /// <summary>Keras's <c>model.get_layer(name)</c>: the layer in this stack's graph (<see cref="AsGraph"/>), whose
    /// <see cref="GraphLayer.Output"/> declares new models on the stack's layers (with <see cref="Model.Input"/> of the graph).</summary>
    /// <exception cref="KeyNotFoundException">No such layer.</exception>
    public GraphLayer GetLayer(string name) => AsGraph().GetLayer(name);

    /// <summary>A new model with <paramref name="layer"/> appended (validated like the rest).</summary>
    public Sequential Add(Layer layer) => new(Name, [Input, .. Layers, layer]);

    /// <summary>The same layers under another model name.</summary>
    public Sequential WithName(string name) => new(name, [Input, .. Layers]);

    /// <summary>All weights (Keras's <c>count_params()</c>).</summary>
    public long ParameterCount { get; }

    /// <summary>Weights updated by training.</summary>
    public long TrainableParameterCount { get; }

    /// <summary>Weights not updated by training (frozen layers, moving statistics).</summary>
    public long NonTrainableParameterCount => ParameterCount - TrainableParameterCount;

    /// <summary>The Keras summary as data.</summary>
    public ModelSummary Summarize() => new(Name,
        Layers.Select((l, i) => new SummaryRow(l.Name!, l.ClassName, [i + 1 < Layers.Length ? LayerInputShapes[i + 1] : OutputShape],
            l.ParameterCount(LayerInputShapes[i]), [])).ToImmutableArray(),
        ParameterCount, TrainableParameterCount);

    /// <summary>The Keras summary as text (<c>model.summary()</c>). Needs no libtorch.</summary>
    public string Summary() => Summarize().ToString();

    /// <inheritdoc />
    public IEnumerator<Layer> GetEnumerator() => ((IEnumerable<Layer>)Layers.Insert(0, Input)).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(Sequential? other) =>
        other is not null && Name == other.Name && Input.Equals(other.Input) && Layers.SequenceEqual(other.Layers);
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Sequential);
    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Input, Layers.Length, OutputShape);

    /// <summary>The summary.</summary>
    public override string ToString() => Summary();
}

/// <summary>What every model declaration offers, sequential or graph: shapes, counts and the summary, all without libtorch.</summary>
public interface IModel
{
    /// <summary>The model's name.</summary>
    string Name { get; }
    /// <summary>The per-sample shape of each model input.</summary>
    IReadOnlyList<Shape> InputShapes { get; }
    /// <summary>The per-sample shape of each model output.</summary>
    IReadOnlyList<Shape> OutputShapes { get; }
    /// <summary>Every layer, each once, with its resolved name.</summary>
    IEnumerable<Layer> Layers { get; }
    /// <summary>All weights.</summary>
    long ParameterCount { get; }
    /// <summary>Weights updated by training.</summary>
    long TrainableParameterCount { get; }
    /// <summary>The Keras summary as data.</summary>
    ModelSummary Summarize();
    /// <summary>The Keras summary as text.</summary>
    string Summary();
    /// <summary>The model as a graph <see cref="Model"/> (a <see cref="Sequential"/> is a chain): what a builder runs.</summary>
    Model AsGraph();
}

/// <summary>Operations every model declaration supports.</summary>
public static class ModelDeclarations
{
    /// <summary>Keras's <c>model.trainable = trainable</c> for any declaration (see <see cref="Model.WithTrainable"/>).</summary>
    /// <exception cref="NotSupportedException">A model type other than <see cref="Model"/> and <see cref="Sequential"/>.</exception>
    public static IModel WithTrainable(this IModel model, bool trainable) => model switch
    {
        null => throw new ArgumentNullException(nameof(model)),
        Model m => m.WithTrainable(trainable),
        Sequential s => s.WithTrainable(trainable),
        _ => throw new NotSupportedException($"Model '{model.Name}' ({model.GetType().Name}) cannot be frozen: only Model and Sequential declarations can."),
    };
}

/// <summary>Keras's default layer naming.</summary>
public static class LayerNaming
{
    /// <summary>
    /// Gives every unnamed layer Keras's default name — the snake-case class name, then <c>_1</c>, <c>_2</c>, … —
    /// skipping names already taken, and rejects duplicate explicit names.
    /// </summary>
    public static IEnumerable<Layer> AssignNames(IEnumerable<Layer> layers) => AssignNames(layers, []);

    /// <summary>
    /// As <see cref="AssignNames(IEnumerable{Layer})"/>, with names already taken by other members of the model
    /// (nested models in a graph): explicit layer names may not repeat them, default names skip them.
    /// </summary>
    public static IEnumerable<Layer> AssignNames(IEnumerable<Layer> layers, IEnumerable<string> reserved)
    {
        var list = layers.ToList();
        var taken = new HashSet<string>();
        foreach (var r in reserved)
            if (!taken.Add(r))
                throw new ArgumentException(
                    $"All layers in a model must have unique names. The name '{r}' is used by more than one layer.", nameof(reserved));
        foreach (var l in list.Where(l => l.Name is not null))
            if (!taken.Add(l.Name!))
                throw new ArgumentException(
                    $"All layers in a model must have unique names. The name '{l.Name}' is used by more than one layer.", nameof(layers));
        var counters = new Dictionary<string, int>();
        foreach (var l in list)
        {
            if (l.Name is not null) { yield return l; continue; }
            var stem = l.DefaultNameStem;
            counters.TryGetValue(stem, out var n);
            string name;
            do { name = n == 0 ? stem : $"{stem}_{n}"; n++; } while (taken.Contains(name));
            counters[stem] = n;
            taken.Add(name);
            yield return l with { Name = name };
        }
    }
}
