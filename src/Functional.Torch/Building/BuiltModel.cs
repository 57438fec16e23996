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
public sealed class BuiltModel : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.ModuleList<BuiltLayer> layers;
    private readonly long[]?[] permuteBefore;   // permutation applied before layer i (null: none)
    private readonly long[]? permuteAfter;

    private BuiltModel(Sequential model, Device device, List<BuiltLayer> built) : base(model.Name)
    {
        Model = model;
        Device = device;
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
        var built = model.Layers.Select((l, i) => LayerBuilders.Build(l, model.InputShapes[i], context)).ToList();
        var result = new BuiltModel(model, device, built);
        result.eval();
        return result;
    }

    /// <summary>The declaration this was built from.</summary>
    public Sequential Model { get; }

    /// <summary>Where the weights live.</summary>
    public Device Device { get; }

    /// <summary>The built layers, aligned with <see cref="Sequential.Layers"/>.</summary>
    public IReadOnlyList<BuiltLayer> Layers => layers.ToList();

    /// <summary>Every weight under its Keras path (<c>conv2d/kernel</c>), with its trainable flag.</summary>
    public IEnumerable<(string Name, Parameter Parameter, bool Trainable)> Weights =>
        layers.SelectMany(l => l.KerasWeights().Select(w => ($"{l.Layer.Name}/{w.Name}", w.Parameter, w.Trainable)));

    /// <summary>The parameters an optimizer should update (trainable ones).</summary>
    public IEnumerable<Parameter> TrainableParameters => Weights.Where(w => w.Trainable).Select(w => w.Parameter);

    /// <summary>Runs the model on a batch in the declared layout. The shape is checked first, with a clear message.</summary>
    public override Tensor forward(Tensor x)
    {
        CheckInput(x);
        var h = x;
        for (var i = 0; i < layers.Count; i++)
        {
            if (permuteBefore[i] is { } p) h = h.permute(p);
            h = layers[i].call(h);
        }
        return permuteAfter is null ? h : h.permute(permuteAfter).contiguous();
    }

    /// <summary>Inference: evaluation mode, no gradients, in batches of <paramref name="batchSize"/>; returns a tensor on the CPU.</summary>
    public Tensor Predict(Tensor x, int batchSize = 32)
    {
        var wasTraining = training;
        eval();
        try
        {
            using var _ = no_grad();
            var outputs = new List<Tensor>();
            for (long start = 0; start < x.shape[0]; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = x.narrow(0, start, Math.Min(batchSize, x.shape[0] - start)).to(Device.ToTorch());
                outputs.Add(call(batch).cpu().MoveToOuterDisposeScope());
            }
            var result = cat(outputs, 0);
            foreach (var o in outputs) o.Dispose();
            return result;
        }
        finally { train(wasTraining); }
    }

    /// <summary>
    /// One training step: forward in training mode, <paramref name="loss"/>(prediction, target), backward, optimizer step.
    /// Every tensor made on the way is released before it returns. Returns the loss value.
    /// </summary>
    public float TrainStep(Tensor x, Tensor target, Func<Tensor, Tensor, Tensor> loss, optim.Optimizer optimizer)
    {
        using var scope = NewDisposeScope();
        train();
        optimizer.zero_grad();
        var prediction = call(x.to(Device.ToTorch()));
        var value = loss(prediction, target.to(Device.ToTorch()));
        value.backward();
        optimizer.step();
        return value.item<float>();
    }

    private void CheckInput(Tensor x)
    {
        var expected = Model.Input.Shape;
        if (x.dim() != expected.Rank + 1 || Enumerable.Range(0, expected.Rank).Any(i => x.shape[i + 1] != expected[i]))
            throw new ArgumentException(
                $"Model '{Model.Name}' expects input of shape {expected} (batch first), but received a tensor of shape " +
                $"({string.Join(", ", x.shape)}).", nameof(x));
    }

    private static long[] ToChannelsFirst(int rank) => [0, rank - 1, .. Enumerable.Range(1, rank - 2).Select(i => (long)i)];
    private static long[] ToChannelsLast(int rank) => [0, .. Enumerable.Range(2, rank - 2).Select(i => (long)i), 1];
}
