using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Functional.Torch;

/// <summary>
/// What every built model offers, sequential or graph: its weights under Keras names, regularization penalties,
/// constraints, inference and one training step. Inputs and outputs are in the declared (Keras) layout.
/// </summary>
public abstract class BuiltNetwork : nn.Module<Tensor, Tensor>
{
    private readonly List<Tensor> activityPenalties = [];

    /// <summary>Creates the network for a declaration on a device.</summary>
    protected BuiltNetwork(IModel declaration, Device device) : base(declaration.Name)
    {
        Declaration = declaration;
        Device = device;
    }

    /// <summary>The declaration this was built from.</summary>
    public IModel Declaration { get; }

    /// <summary>Where the weights live.</summary>
    public Device Device { get; }

    /// <summary>The built layers, each once.</summary>
    public abstract IReadOnlyList<BuiltLayer> BuiltLayers { get; }

    /// <summary>Every weight under its Keras path (<c>conv2d/kernel</c>).</summary>
    public IEnumerable<WeightBinding> Weights =>
        BuiltLayers.SelectMany(l => l.Weights().Select(w => w.Prefixed(l.Layer.Name ?? l.Layer.DefaultNameStem)));

    /// <summary>The parameters an optimizer should update.</summary>
    public IEnumerable<Parameter> TrainableParameters => Weights.Where(w => w.Trainable).Select(w => w.Parameter);

    /// <summary>Runs the network on one tensor per model input; returns one tensor per model output.</summary>
    public abstract IReadOnlyList<Tensor> Forward(IReadOnlyList<Tensor> inputs);

    /// <summary>Single-input, single-output forward pass.</summary>
    public override Tensor forward(Tensor x)
    {
        var outputs = Forward([x]);
        if (outputs.Count != 1)
            throw new InvalidOperationException($"Model '{Declaration.Name}' has {outputs.Count} outputs; call Forward with a list.");
        return outputs[0];
    }

    /// <summary>
    /// Called by subclasses after each layer's forward pass: in training mode, records the layer's activity penalty
    /// (Keras: regularizer(output) / batch size, and 0 for an empty batch).
    /// </summary>
    protected Tensor AfterLayer(BuiltLayer layer, Tensor output)
    {
        if (training && layer.Layer.ActivityRegularizer is { } r)
            activityPenalties.Add(RegularizerOps.Penalty(r, output) / Math.Max(1L, output.dim() > 0 ? output.shape[0] : 1L));
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
        foreach (var w in Weights)
            if (w.Regularizer is { } r && w.Trainable)
            {
                using var view = w.KerasView();
                total = total + RegularizerOps.Penalty(r, view);
            }
        foreach (var p in activityPenalties) total = total + p;
        activityPenalties.Clear();
        return total;
    }

    /// <summary>Forgets recorded activity penalties (e.g. after an evaluation pass in training mode).</summary>
    public void ClearActivityPenalties() => activityPenalties.Clear();

    /// <summary>
    /// Applies every trainable weight's constraint to its Keras-layout view (Keras's optimizer does this after each update,
    /// to the trainable variables only, so a frozen layer's weights are left alone).
    /// </summary>
    public void ApplyConstraints()
    {
        foreach (var w in Weights)
            if (w.Constraint is { } c && w.Trainable)
            {
                using var view = w.KerasView();
                ConstraintOps.Apply(c, view);
            }
    }

    /// <summary>Inference for single-input models: evaluation mode, no gradients, in batches; returns a CPU tensor.</summary>
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
    /// One training step: forward in training mode, <paramref name="loss"/>(prediction, target) plus regularization
    /// penalties, backward, optimizer step, constraints. Every tensor made on the way is released. Returns the loss.
    /// </summary>
    public float TrainStep(Tensor x, Tensor target, Func<Tensor, Tensor, Tensor> loss, optim.Optimizer optimizer)
    {
        using var scope = NewDisposeScope();
        train();
        optimizer.zero_grad();
        var prediction = call(x.to(Device.ToTorch()));
        var value = loss(prediction, target.to(Device.ToTorch())) + RegularizationLoss();
        value.backward();
        optimizer.step();
        ApplyConstraints();
        return value.item<float>();
    }
}
