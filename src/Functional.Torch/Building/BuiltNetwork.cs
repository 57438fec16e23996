using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Functional.Torch;

/// <summary>
/// What every built model offers, sequential or graph: its weights under Keras names, regularization penalties,
/// constraints, inference and one training step. Inputs and outputs are in the declared (Keras) layout.
/// </summary>
/// <remarks>
/// Thread safety: calls (<see cref="Predict(IReadOnlyList{Tensor}, int)"/>, <see cref="Forward(IReadOnlyList{Tensor}, ForwardContext)"/>,
/// evaluate) hold a read lease and may run on any number of threads at once; a training step, loading or restoring weights
/// and <see cref="Dispose(bool)"/> hold the write lease and run alone, so a call sees the weights between two steps and never
/// a freed model. The module-mode members (<see cref="Forward(IReadOnlyList{Tensor})"/> in train mode, <c>train()</c>/<c>eval()</c>,
/// <see cref="RegularizationLoss"/>, <see cref="ApplyConstraints"/>) share state: one thread. See docs/thread-safety.md.
/// </remarks>
public abstract class BuiltNetwork : nn.Module<Tensor, Tensor>
{
    private readonly List<Tensor> activityPenalties = [];   // recorded by Forward calls that follow the module's mode

    /// <summary>Creates the network for a declaration on a device.</summary>
    protected BuiltNetwork(IModel declaration, Device device) : base(declaration.Name)
    {
        Declaration = declaration;
        Device = device;
        inputShapes = declaration.InputShapes.ToArray();
        inputTypes = InputDtypes(declaration).Select(DTypes.ToScalarType).ToArray();
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

    /// <summary>The declaration this was built from.</summary>
    public IModel Declaration { get; }

    /// <summary>Where the weights live.</summary>
    public Device Device { get; }

    /// <summary>Builds any model declaration: a <see cref="Sequential"/> into a <see cref="BuiltModel"/>, a graph <see cref="Model"/> into a <see cref="BuiltGraph"/>.</summary>
    public static BuiltNetwork Build(IModel model, Device? device = null) => model switch
    {
        Sequential s => BuiltModel.Build(s, device),
        Model m => BuiltGraph.Build(m, device),
        null => throw new ArgumentNullException(nameof(model)),
        _ => throw new NotSupportedException($"No builder for models of type {model.GetType().Name}."),
    };

    /// <summary>The built layers, each once.</summary>
    public abstract IReadOnlyList<BuiltLayer> BuiltLayers { get; }

    /// <summary>Built models used as layers inside this one (graphs only), each once.</summary>
    protected virtual IEnumerable<BuiltNetwork> NestedNetworks => [];

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

    /// <summary>The forward pass proper: subclasses run their layers with <see cref="BuiltLayer.Forward(IReadOnlyList{Tensor}, ForwardContext)"/>.</summary>
    protected abstract IReadOnlyList<Tensor> ForwardCore(IReadOnlyList<Tensor> inputs, ForwardContext context);

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

    /// <summary>How messages name model input <paramref name="index"/> (<c>input</c>; <c>input 0 ('image')</c> in a graph).</summary>
    protected virtual string InputLabel(int index) => $"input {index}";

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
    protected Tensor ModelInput(Tensor? x, int index)
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

    private static bool Fits(long[] shape, Shape expected)
    {
        if (shape.Length != expected.Rank + 1) return false;
        for (var i = 0; i < expected.Rank; i++)
            if (shape[i + 1] != expected[i]) return false;
        return true;
    }

    // Names the model, the input and both shapes.
    private ArgumentException WrongShape(long[] shape, Shape expected, string input) =>
        new($"Model '{Declaration.Name}' expects {input} of shape {expected} (batch first), but received a tensor of shape " +
            $"({string.Join(", ", shape)}).", "x");

    /// <summary>
    /// Called by subclasses after each layer's forward pass: in training mode, records the layer's activity penalty
    /// (Keras: regularizer(output) / batch size, and 0 for an empty batch).
    /// </summary>
    protected static Tensor AfterLayer(BuiltLayer layer, Tensor output, ForwardContext context)
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
    protected static long[] ToChannelsFirst(int rank) => [0, rank - 1, .. Enumerable.Range(1, rank - 2).Select(i => (long)i)];

    /// <summary>The permutation from a channels-first tensor of the given rank (batch included) back to channels-last.</summary>
    protected static long[] ToChannelsLast(int rank) => [0, .. Enumerable.Range(2, rank - 2).Select(i => (long)i), 1];

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
        using var writing = WriteLease();
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var context = new ForwardContext(true);
        var prediction = ForwardCore([Device.Place(x)], context);
        if (prediction.Count != 1)
            throw new InvalidOperationException($"Model '{Declaration.Name}' has {prediction.Count} outputs; TrainStep takes one.");
        var value = AddRegularization(loss(prediction[0], Device.Place(target)), context);
        value.backward();
        optimizer.step();
        ApplyConstraintsHeld();
        return value.item<float>();
    }
}
