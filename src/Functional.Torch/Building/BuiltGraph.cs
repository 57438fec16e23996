using Functional.Layers;
using Functional.Models;
using Functional.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch;

/// <summary>
/// A graph <see cref="Model"/> built into TorchSharp modules on a device. Each layer is built once — a shared layer is
/// one module with one set of weights, called at every node that applies it — and nested models are built networks of
/// their own. <see cref="BuiltNetwork.Forward(IReadOnlyList{Tensor}, ForwardContext)"/> takes one tensor per model input and returns one per output, in the declared
/// (Keras) layout.
/// </summary>
/// <remarks>
/// Layout: every value is kept in the Keras layout, except that the output of a <c>channels_last</c> spatial layer that
/// computes channels-first (<see cref="PhysicalLayout.ChannelsFirst"/>) stays channels-first while it flows into layers
/// that take that layout or do not care (<see cref="PhysicalLayout.Any"/>, when all their inputs agree); anything else
/// gets it permuted back first. So a chain of convolutions permutes once in and once out, as in a built Sequential.
/// </remarks>
public sealed class BuiltGraph : BuiltNetwork
{
    private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> builtModules;
    private readonly nn.Module<Tensor, Tensor>?[] moduleOf;   // per operation: its module (null for inputs)
    private readonly Dictionary<string, int> operationIndex;

    private BuiltGraph(Model model, Device device, nn.Module<Tensor, Tensor>?[] built) : base(model, device)
    {
        Model = model;
        moduleOf = built;
        builtModules = nn.ModuleList(built.OfType<nn.Module<Tensor, Tensor>>().ToArray());
        operationIndex = model.Operations.Select((o, i) => (o.Name, i)).ToDictionary(x => x.Name, x => x.i);
        RegisterComponents();
    }

    /// <summary>Builds <paramref name="model"/> on <paramref name="device"/> (the CPU by default), initialising weights as Keras does.</summary>
    /// <exception cref="NotSupportedException">A shared layer is applied to inputs of different shapes (its module is built for one shape).</exception>
    /// <exception cref="InvalidDataException">The model was declared by <see cref="Applications"/> with a weights file that does not match it (named in the message).</exception>
    public static BuiltGraph Build(Model model, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        LibTorch.EnsureLoaded();
        device ??= Device.Cpu;
        var context = new BuildContext(device);
        var built = new nn.Module<Tensor, Tensor>?[model.Operations.Length];
        try
        {
            for (var i = 0; i < built.Length; i++)
            {
                var op = model.Operations[i];
                built[i] = op.Operation switch
                {
                    Input => null,
                    Layer layer => LayerBuilders.Build(layer, op.Nodes[0].InputShapes, context),
                    IModel nested => Build(nested, device),
                    _ => throw new InvalidOperationException(),
                };
                if (op.Layer is not null) CheckShared(op);
            }
            var result = new BuiltGraph(model, device, built);
            result.eval();
            // A model declared by Applications with weights: "path" comes with those weights (Keras's `model.load_weights(weights)`).
            if (Applications.WeightsFile(model) is { } weightsFile) Saving.WeightFiles.LoadWeights(result, weightsFile);
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

    /// <summary>The declaration this was built from.</summary>
    public Model Model { get; }

    /// <inheritdoc />
    public override IReadOnlyList<BuiltLayer> BuiltLayers => moduleOf.OfType<BuiltLayer>().ToList();

    /// <inheritdoc />
    protected override IEnumerable<BuiltNetwork> NestedNetworks => moduleOf.OfType<BuiltNetwork>();

    /// <summary>The built module of the layer (or nested model) with the given name.</summary>
    public nn.Module<Tensor, Tensor> this[string name] =>
        operationIndex.TryGetValue(name, out var i) && moduleOf[i] is { } m
            ? m
            : throw new KeyNotFoundException($"Model '{Model.Name}' has no built layer named '{name}'.");

    /// <summary>Runs the graph on one tensor per model input (batch first, declared layout); returns one tensor per output.</summary>
    /// <exception cref="ArgumentException">The wrong number of inputs, or a tensor of the wrong shape (named with the expected one).</exception>
    protected override IReadOnlyList<Tensor> ForwardCore(IReadOnlyList<Tensor> inputs, ForwardContext context)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != Model.Inputs.Length)
            throw new ArgumentException(
                $"Model '{Model.Name}' takes {Model.Inputs.Length} input(s) of shapes [{string.Join(", ", Model.InputShapes)}]; received {inputs.Count}.",
                nameof(inputs));
        var values = new Dictionary<(int Op, int Node), Value[]>();
        for (var i = 0; i < inputs.Count; i++)
            values[(operationIndex[Model.Inputs[i].Layer], 0)] = [new Value(ModelInput(inputs[i], i), false, null)];
        foreach (var (o, k) in Model.ExecutionOrder)
        {
            var module = moduleOf[o];
            if (module is null) continue;   // a model input, already set
            var args = Model.Operations[o].Nodes[k].Inputs.Select(r => values[(operationIndex[r.Layer], r.Node)][r.Tensor]).ToList();
            values[(o, k)] = module switch
            {
                BuiltLayer layer => [Run(layer, args, context)],
                BuiltNetwork nested => nested.Forward(args.Select(a => a.Logical()).ToList(), context).Select(t => new Value(t, false, null)).ToArray(),
                _ => throw new InvalidOperationException(),
            };
        }
        return Model.Outputs.Select(r => values[(operationIndex[r.Layer], r.Node)][r.Tensor])
            .Select(v => v.ChannelsFirst ? v.Logical().contiguous() : v.Tensor).ToList();
    }

    // Runs a layer in its compute layout with its inputs' masks (Keras's call with mask=…), and gives its output the mask
    // the layer computes (Keras's compute_mask), which is kept in the Keras layout whatever the value's layout.
    private static Value Run(BuiltLayer layer, List<Value> args, ForwardContext context)
    {
        var (inputs, channelsFirst) = layer.Layout switch
        {
            PhysicalLayout.ChannelsFirst => (args.Select(a => a.InChannelsFirst()).ToList(), true),
            PhysicalLayout.Any when args.All(a => a.ChannelsFirst) && args.All(a => a.Tensor.dim() == args[0].Tensor.dim()) =>
                (args.Select(a => a.Tensor).ToList(), true),
            _ => (args.Select(a => a.Logical()).ToList(), false),
        };
        var masks = args.Select(a => a.Mask).ToList();
        var output = layer.Forward(inputs, masks, context);
        var mask = layer.ComputeMask(inputs, masks);
        return new Value(AfterLayer(layer, output, context), channelsFirst, mask);
    }

    /// <inheritdoc />
    protected override string InputLabel(int index) => $"input {index} ('{Model.Inputs[index].Layer}')";

    /// <summary>A computed value and whether it is held channels-first (the output of a channels-first spatial layer).</summary>
    private readonly record struct Value(Tensor Tensor, bool ChannelsFirst, Tensor? Mask)
    {
        public Tensor Logical() => ChannelsFirst ? Tensor.permute(ToChannelsLast((int)Tensor.dim())) : Tensor;
        public Tensor InChannelsFirst() => ChannelsFirst ? Tensor : Layouts.Standard(Tensor.permute(ToChannelsFirst((int)Tensor.dim())));
    }
}
