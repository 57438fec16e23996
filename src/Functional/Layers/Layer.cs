using Functional.Shapes;
using Functional.Functions;
using System.Text.RegularExpressions;

namespace Functional.Layers;

/// <summary>
/// An immutable Keras layer: its configuration, validated at construction, and the pure functions of it —
/// <see cref="ComputeOutputShape(Shape)"/> and <see cref="Parameters(Shape)"/>. Building it into tensors is Functional.Torch's job.
/// </summary>
/// <remarks>
/// <para>Records compare by value, so two layers with the same configuration are equal.</para>
/// <para>A layer record cannot exist invalid, however it is made — by its constructor, by <c>with</c>, or from a config:
/// each argument is checked by its <c>init</c> accessor, and a rule that ties several arguments together (Conv's filters
/// and groups, a transposed convolution's output padding and strides, …) is checked by the constructor once all are set
/// and, in a copy made by <c>with</c>, again after every assignment. A <c>with</c> applies its assignments in the order
/// written, so when changing arguments that are checked together, order them so that each step is valid:
/// <c>conv with { Filters = 64, Groups = 4 }</c>.</para>
/// </remarks>
public abstract partial record Layer
{
    private readonly string? _name;

    // False while a constructor is still setting the arguments one by one; copied as true into every `with` copy.
    private bool _constructed;

    /// <summary>
    /// Ends construction: a constructor whose record has rules over several arguments calls it after checking them, so that
    /// from then on — in every copy <c>with</c> makes — <see cref="Recheck"/> runs them after each assignment.
    /// </summary>
    protected void EndConstruction() => _constructed = true;

    /// <summary>
    /// Called by the <c>init</c> accessor of an argument that takes part in a rule over several arguments: once the record is
    /// constructed (so in a <c>with</c>), runs <paramref name="validate"/>, so no assignment can leave the copy invalid. The
    /// refusal says so, since the same assignments in another order may be valid.
    /// </summary>
    protected void Recheck(Action validate)
    {
        if (!_constructed) return;
        try { validate(); }
        catch (ArgumentException e)
        {
            var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "");
            throw new ArgumentException(
                $"{message} (A `with` applies its assignments in the order written and each must leave a valid {ClassName}; " +
                "when changing arguments that are checked together, set them in an order that stays valid, or use the constructor.)",
                e.ParamName, e);
        }
    }

    /// <summary>The layer's name (Keras's <c>name</c>). A model gives unnamed layers Keras's default, e.g. <c>conv2d_1</c>.</summary>
    public string? Name
    {
        get => _name;
        init => _name = value is null || (value.Length > 0 && !value.Contains('/'))
            ? value
            : throw new ArgumentException($"{ClassName}: expected argument 'name' to be a non-empty string without '/'. Received: name='{value}'.", nameof(Name));
    }

    /// <summary>
    /// The layer's dtype policy (Keras's <c>dtype</c>): the dtype it computes in and the dtype of its weights. A layer made
    /// without one takes <see cref="DTypePolicy.Current"/> when the record is constructed, as Keras resolves
    /// <c>dtype=None</c> in the layer's constructor; setting null does the same. Only an <see cref="Input"/> may have an
    /// integer or bool dtype.
    /// </summary>
    public DTypePolicy Dtype
    {
        get => _dtype;
        init => _dtype = value is null ? DTypePolicy.Current
            : value.IsFloating || this is Input ? value
            : throw ArgumentError("dtype", value.Name,
                $"a floating-point dtype policy ({string.Join(", ", DTypePolicy.FloatDtypes)}, mixed_float16 or mixed_bfloat16); integer dtypes are for Input");
    }
    private readonly DTypePolicy _dtype = DTypePolicy.Current;

    /// <summary>Whether the layer's weights are updated by training (Keras's <c>trainable</c>).</summary>
    public bool Trainable { get; init; } = true;

    /// <summary>This layer trainable or frozen (an <see cref="Input"/> has no weights and stays as it is).</summary>
    internal Layer WithTrainable(bool trainable) => this is Input || Trainable == trainable ? this : this with { Trainable = trainable };

    /// <summary>A penalty on the layer's output, added to the training loss (Keras's <c>activity_regularizer</c>).</summary>
    public virtual Regularizer? ActivityRegularizer { get; init; }

    /// <summary>The Keras class name shown in summaries and configs, e.g. <c>Conv2D</c>.</summary>
    public virtual string ClassName => GetType().Name;

    /// <summary>Keras's default name stem for this class: <c>Conv2D</c> → <c>conv2d</c>, <c>MaxPooling2D</c> → <c>max_pooling2d</c>.</summary>
    public string DefaultNameStem => ToSnakeCase(ClassName);

    /// <summary>How the layer is named in messages: <c>Conv2D 'conv2d_1'</c>.</summary>
    public string Describe() => Name is null ? ClassName : $"{ClassName} '{Name}'";

    /// <summary>
    /// Keras's <c>supports_masking</c>: whether a mask on the input is kept for the output (Keras's default
    /// <c>compute_mask</c> passes it on; layers that create or consume masks, such as Masking, merges and
    /// GlobalAveragePooling1D, compute their own). False by default: such a layer drops the mask, as Keras does.
    /// </summary>
    public virtual bool SupportsMasking => false;

    /// <summary>The per-sample output shape for a per-sample input shape.</summary>
    /// <exception cref="ShapeException">The input shape does not suit the layer; the message names the layer, the shape and the dimension.</exception>
    public abstract Shape ComputeOutputShape(Shape input);

    /// <summary>The output shape for several inputs; single-input layers require exactly one.</summary>
    public virtual Shape ComputeOutputShape(IReadOnlyList<Shape> inputs)
    {
        if (inputs.Count != 1)
            throw new ShapeException(this, inputs, null, $"expects exactly one input, got {inputs.Count}.");
        return ComputeOutputShape(inputs[0]);
    }

    /// <summary>
    /// How many tensors one call returns (Keras: a layer whose <c>call</c> returns a list, such as an RNN with
    /// <c>return_state</c>); 1 for most layers. A layer with several overrides <see cref="ComputeOutputShapes"/>.
    /// </summary>
    public virtual int OutputCount => 1;

    /// <summary>
    /// The per-sample shape of each output (Keras's <c>compute_output_shape</c> returning a list), in order; by default the
    /// one shape of <see cref="ComputeOutputShape(IReadOnlyList{Shape})"/>.
    /// </summary>
    public virtual IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs) => [ComputeOutputShape(inputs)];

    /// <summary>The weights the layer creates for a given input shape, in Keras layout and order.</summary>
    public virtual IReadOnlyList<ParameterSpec> Parameters(Shape input) => [];

    /// <summary>Weights for several inputs (merge layers); single-input layers use the first.</summary>
    public virtual IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs) =>
        inputs.Count == 1 ? Parameters(inputs[0]) : [];

    /// <summary>The number of scalars in all weights (Keras's <c>count_params()</c>).</summary>
    public long ParameterCount(Shape input) => CountParameters([input]).Total;

    /// <summary>The number of scalars updated by training: none when the layer is frozen.</summary>
    public long TrainableParameterCount(Shape input) => CountParameters([input]).Trainable;

    /// <summary>
    /// The output shape, with arithmetic overflow (a dimension or size past what the shape types hold) reported as a
    /// <see cref="ShapeException"/> naming this layer. Models declare their layers' shapes through this.
    /// </summary>
    internal IReadOnlyList<Shape> CheckedOutputShapes(IReadOnlyList<Shape> inputs)
    {
        try
        {
            var shapes = ComputeOutputShapes(inputs);
            return shapes.Count == OutputCount ? shapes : throw new InvalidOperationException(
                $"{Describe()} declares {OutputCount} output(s) but its ComputeOutputShapes returned {shapes.Count}.");
        }
        catch (OverflowException e)
        {
            throw new ShapeException(this, inputs, null,
                $"its output shape overflows: a dimension or size would pass {int.MaxValue:N0}, the largest dimension ({e.Message})");
        }
    }

    /// <summary>The one output shape of a single-output layer (a Sequential's rule, as Keras's: "All layers in a Sequential
    /// model should have a single output tensor").</summary>
    internal Shape CheckedOutputShape(IReadOnlyList<Shape> inputs) => OutputCount == 1
        ? CheckedOutputShapes(inputs)[0]
        : throw new ArgumentException(
            $"All layers in a Sequential model should have a single output tensor. For multi-output layers, use the functional API. {Describe()} returns {OutputCount}.");


    /// <summary>
    /// All and trainable weights for these inputs, exact in 64 bits, or a <see cref="ShapeException"/> naming this layer
    /// when a weight or the total has more scalars than a 64-bit count holds.
    /// </summary>
    internal (long Total, long Trainable) CountParameters(IReadOnlyList<Shape> inputs)
    {
        long total = 0, trainable = 0;
        try
        {
            foreach (var p in Parameters(inputs))
            {
                var size = p.Size;
                total = checked(total + size);
                if (Trainable && p.Trainable) trainable += size;
            }
        }
        catch (OverflowException e)
        {
            throw new ShapeException(this, inputs, null,
                $"its weights have more scalars than a 64-bit count holds ({long.MaxValue:N0}). {e.Message}");
        }
        return (total, trainable);
    }

    /// <summary>Throws a <see cref="ShapeException"/> about <paramref name="input"/> and dimension <paramref name="dimension"/>.</summary>
    protected ShapeException ShapeError(Shape input, int? dimension, string problem) => new(this, [input], dimension, problem);

    /// <summary>
    /// The dimension at <paramref name="axis"/> of a per-sample input, which the layer needs known to create its weights
    /// (a shape error naming the axis otherwise, as Keras fails to build a layer on an unknown weight dimension).
    /// </summary>
    protected int KnownDim(Shape input, int axis, string what)
    {
        var a = axis < 0 ? input.Rank + axis : axis;
        return input[a] ?? throw ShapeError(input, a, $"the {what} must be defined to create the layer's weights. Found None.");
    }

    /// <summary>Throws an argument error naming this layer, the argument and the value.</summary>
    protected ArgumentException ArgumentError(string argument, object? value, string expectation) =>
        new($"{ClassName}: expected argument '{argument}' to be {expectation}. Received: {argument}={FormatValue(value)}.", argument);

    internal static string FormatValue(object? value) => value switch
    {
        null => "None",
        string s => $"'{s}'",
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "True" : "False",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "None",
    };

    /// <summary>Keras's <c>to_snake_case</c>.</summary>
    public static string ToSnakeCase(string name) => Naming.ToSnakeCase(name);

}

/// <summary>One weight a layer creates: its Keras name and layout, how to initialise it and whether training updates it.</summary>
/// <param name="Name">Keras's weight name, e.g. <c>kernel</c>, <c>bias</c>, <c>moving_mean</c>.</param>
/// <param name="Shape">The weight's shape in Keras's layout (a Conv2D kernel is <c>(kh, kw, in, out)</c>).</param>
/// <param name="Initializer">How it is filled when built.</param>
/// <param name="Trainable">False for statistics such as BatchNormalization's moving mean and variance.</param>
/// <param name="Regularizer">Penalty added to the loss for this weight, if any.</param>
/// <param name="Constraint">Projection applied after each update, if any.</param>
/// <param name="Dtype">The weight's own dtype when it is not the layer's variable dtype (Keras's <c>add_weight(dtype=…)</c>,
/// e.g. <c>int64</c> for a counter); null for the layer's.</param>
public sealed record ParameterSpec(string Name, Shape Shape, Initializer Initializer, bool Trainable = true,
    Regularizer? Regularizer = null, Constraint? Constraint = null, string? Dtype = null)
{
    /// <summary>The weight's shape in Keras's layout; always fully known.</summary>
    public Shape Shape { get; init; } = Shape is { IsFullyKnown: true } ? Shape
        : throw new ArgumentException($"Weight '{Name}' needs a fully known shape. Received: shape={Shape?.ToSampleString() ?? "None"}.", nameof(Shape));

    /// <summary>The number of scalars.</summary>
    public long Size => Shape.Size!.Value;

    /// <summary>The shape's dimensions as <c>long</c>s (Keras's layout), for tensor APIs.</summary>
    public long[] Dims => Shape.ToKnownArray().Select(d => (long)d).ToArray();
}

/// <summary>
/// A layer cannot take the shape it is given. The message names the layer, the input shape and the offending dimension.
/// </summary>
public sealed class ShapeException : ArgumentException
{
    /// <summary>The layer's description, e.g. <c>Conv2D 'conv2d_2'</c>.</summary>
    public string Layer { get; }
    /// <summary>The input shapes the layer was given.</summary>
    public IReadOnlyList<Shape> InputShapes { get; }
    /// <summary>The per-sample dimension at fault (0-based, batch excluded), when one is.</summary>
    public int? Dimension { get; }

    /// <summary>Creates the error.</summary>
    public ShapeException(Layer layer, IReadOnlyList<Shape> inputs, int? dimension, string problem)
        : base(Compose(layer.Describe(), inputs, dimension, problem))
    {
        Layer = layer.Describe();
        InputShapes = inputs;
        Dimension = dimension;
    }

    private static string Compose(string layer, IReadOnlyList<Shape> inputs, int? dimension, string problem)
    {
        var shapes = inputs.Count == 1 ? $"input shape {inputs[0]}" : $"input shapes [{string.Join(", ", inputs)}]";
        var dim = dimension is { } d ? $" (axis {d + 1} counting the batch axis)" : "";
        return $"{layer} cannot take {shapes}{dim}: {problem}";
    }
}
