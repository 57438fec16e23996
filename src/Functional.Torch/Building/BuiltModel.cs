using Functional.Models;
using Functional.Native;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;

using static TorchSharp.torch;

namespace Functional.Torch;

/// <summary>
/// A <see cref="Sequential"/> model built into TorchSharp modules on a device: it owns the weights and runs forward passes.
/// Inputs and outputs are in the Keras layout the model declares (<c>channels_last</c> by default); runs of
/// <c>channels_last</c> spatial layers compute in PyTorch's channels-first layout with one permute in and one out.
/// </summary>
public sealed class BuiltModel : BuiltNetwork
{
    private readonly TorchSharp.Modules.ModuleList<BuiltLayer> layers;
    private readonly long[]?[] permuteBefore;   // permutation applied before layer i (null: none)
    private readonly long[]? permuteAfter;

    private BuiltModel(Sequential model, Device device, List<BuiltLayer> built) : base(model, device)
    {
        Model = model;
        layers = nn.ModuleList(built.ToArray());
        permuteBefore = new long[]?[built.Count];
        var channelsFirst = false;
        for (var i = 0; i < built.Count; i++)
        {
            var rank = built[i].InputShape.Rank + 1;
            switch (built[i].Layout)
            {
                case PhysicalLayout.ChannelsFirst when !channelsFirst:
                    permuteBefore[i] = ToChannelsFirst(rank); channelsFirst = true; break;
                case PhysicalLayout.Logical when channelsFirst:
                    permuteBefore[i] = ToChannelsLast(rank); channelsFirst = false; break;
            }
        }
        if (channelsFirst) permuteAfter = ToChannelsLast(model.OutputShape.Rank + 1);
        RegisterComponents();
    }

    /// <summary>Builds <paramref name="model"/> on <paramref name="device"/> (the CPU by default), initialising weights as Keras does.</summary>
    public static BuiltModel Build(Sequential model, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        LibTorch.EnsureLoaded();
        device ??= Device.Cpu;
        var context = new BuildContext(device);
        var built = model.Layers.Select((l, i) => LayerBuilders.Build(l, model.LayerInputShapes[i], context)).ToList();
        var result = new BuiltModel(model, device, built);
        result.eval();
        return result;
    }

    /// <summary>The declaration this was built from.</summary>
    public Sequential Model { get; }

    /// <inheritdoc />
    public override IReadOnlyList<BuiltLayer> BuiltLayers => layers.ToList();

    /// <summary>Runs the model on a batch in the declared layout. The shape is checked first, with a clear message.</summary>
    protected override IReadOnlyList<Tensor> ForwardCore(IReadOnlyList<Tensor> inputs, ForwardContext context)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 1)
            throw new ArgumentException($"Model '{Model.Name}' takes one input; received {inputs.Count}.", nameof(inputs));
        var h = ModelInput(inputs[0], 0);
        Tensor? mask = null;   // Keras's mask on the current tensor, if a layer made one (Masking) and the layers since kept it
        for (var i = 0; i < layers.Count; i++)
        {
            if (permuteBefore[i] is { } p) h = Layouts.Standard(h.permute(p));
            var layer = layers[i];
            var y = layer.Forward([h], [mask], context);
            mask = layer.ComputeMask([h], [mask]);
            h = AfterLayer(layer, y, context);
        }
        return [permuteAfter is null ? h : h.permute(permuteAfter).contiguous()];
    }

    /// <inheritdoc />
    protected override string InputLabel(int index) => "input";
}
