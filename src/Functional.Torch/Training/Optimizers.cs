using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch.Data;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Functional.Torch.Training;

/// <summary>
/// A Keras optimizer over TorchSharp parameters. The update formulas are Keras's (<c>keras/src/optimizers/*.py</c>), written
/// here rather than delegated to <c>torch.optim</c>, because several differ from PyTorch's (each subclass says how).
/// One <see cref="Apply"/> does what Keras's <c>apply_gradients</c> does: clip gradients (<see cref="ClipNorm"/>,
/// <see cref="ClipValue"/> or <see cref="GlobalClipNorm"/>), apply decoupled <see cref="WeightDecay"/>, update each variable
/// with the learning rate of the current step (a <see cref="LearningRateSchedule"/> is evaluated at <see cref="Iterations"/>),
/// then count the step. Strings convert implicitly (<c>"adam"</c>, <c>"sgd"</c>, …).
/// </summary>
/// <remarks>
/// Not thread-safe: its per-weight state, step count and learning rate change with every step. It serves one compiled
/// model, whose steps run one at a time; change <see cref="LearningRate"/> from a callback (the fit's thread).
/// </remarks>
public abstract class Optimizer
{
    private double learningRate;
    private readonly List<Parameter> variables = [];
    private readonly Dictionary<string, List<Tensor>> slots = new(StringComparer.Ordinal);

    /// <summary>Creates the optimizer with Keras's base arguments; at most one of the clipping arguments may be set.</summary>
    protected Optimizer(string name, double learningRate, LearningRateSchedule? schedule, double? clipNorm, double? clipValue,
        double? globalClipNorm, double? weightDecay)
    {
        Name = name;
        if (schedule is null && !(double.IsFinite(learningRate) && learningRate >= 0))
            throw new ArgumentException($"{ClassName}: expected argument 'learningRate' to be a non-negative number. Received: learningRate={Fmt(learningRate)}.", nameof(learningRate));
        this.learningRate = learningRate;
        Schedule = schedule;
        if (new[] { clipNorm, clipValue, globalClipNorm }.Count(c => c is not null) > 1)
            throw new ArgumentException(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. " +
                $"Received: clipnorm={Fmt(clipNorm)}, clipvalue={Fmt(clipValue)}, global_clipnorm={Fmt(globalClipNorm)}.");
        ClipNorm = Positive(clipNorm, "clipNorm");
        ClipValue = Positive(clipValue, "clipValue");
        GlobalClipNorm = Positive(globalClipNorm, "globalClipNorm");
        WeightDecay = weightDecay is null or >= 0 ? weightDecay
            : throw new ArgumentException($"{ClassName}: expected argument 'weightDecay' to be non-negative. Received: weightDecay={Fmt(weightDecay)}.", nameof(weightDecay));
    }

    /// <summary>The optimizer's name (<c>adam</c>, …).</summary>
    public string Name { get; }

    /// <summary>The Keras class name.</summary>
    public string ClassName => GetType().Name;

    /// <summary>The schedule, when the learning rate was given as one.</summary>
    public LearningRateSchedule? Schedule { get; }

    /// <summary>Per-variable gradient norm clip (Keras <c>clipnorm</c>).</summary>
    public double? ClipNorm { get; }

    /// <summary>Elementwise gradient clip to ±value (Keras <c>clipvalue</c>).</summary>
    public double? ClipValue { get; }

    /// <summary>Clip of the global norm over all gradients (Keras <c>global_clipnorm</c>).</summary>
    public double? GlobalClipNorm { get; }

    /// <summary>Decoupled weight decay: <c>w ← w − w · weightDecay · lr</c> before each update (Keras <c>weight_decay</c>).</summary>
    public double? WeightDecay { get; }

    /// <summary>Updates applied so far (Keras <c>iterations</c>).</summary>
    public virtual long Iterations { get; set; }

    /// <summary>
    /// The learning rate for the next update: the schedule at <see cref="Iterations"/>, or the fixed rate. Setting it is
    /// allowed only for a fixed rate (as in Keras).
    /// </summary>
    public virtual double LearningRate
    {
        get => Schedule?.At(Iterations) ?? learningRate;
        set
        {
            if (Schedule is not null)
                throw new InvalidOperationException(
                    $"{ClassName} was created with a LearningRateSchedule ({Schedule.ClassName}) as its learning rate, hence its learning rate is not settable.");
            if (!(double.IsFinite(value) && value >= 0))
                throw new ArgumentException($"{ClassName}: expected a non-negative learning rate. Received: {Fmt(value)}.", nameof(value));
            learningRate = value;
        }
    }

    /// <summary>The variables this optimizer updates, once built.</summary>
    public IReadOnlyList<Parameter> Variables => variables;

    /// <summary>Whether <see cref="Build"/> has run.</summary>
    public bool Built { get; private set; }

    /// <summary>The kinds of per-variable state (Keras's optimizer variables: <c>momentum</c>, <c>velocity</c>, …).</summary>
    public abstract IReadOnlyList<string> SlotNames { get; }

    /// <summary>The starting value of a slot (zero, except Adagrad's accumulator).</summary>
    protected virtual double SlotInitialValue(string slot) => 0.0;

    /// <summary>Scalar state beyond the slots (e.g. Nadam's momentum-cache product), saved with checkpoints.</summary>
    public virtual IReadOnlyDictionary<string, double> ScalarState => new Dictionary<string, double>();

    /// <summary>Restores scalar state saved from <see cref="ScalarState"/>.</summary>
    public virtual void RestoreScalarState(IReadOnlyDictionary<string, double> state) { }

    /// <summary>The hyper-parameters, for checkpoints and display.</summary>
    public virtual IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["name"] = Name,
        ["learning_rate"] = Schedule is null ? Fmt(learningRate) : Schedule.ToString(),
    };

    /// <summary>Creates the state for <paramref name="parameters"/> (Keras's <c>build(var_list)</c>). Idempotent.</summary>
    public virtual void Build(IEnumerable<Parameter> parameters)
    {
        if (Built) return;
        variables.AddRange(parameters);
        using var _ = no_grad();
        foreach (var slot in OwnSlotNames)
        {
            var init = SlotInitialValue(slot);
            slots[slot] = variables.Select(v =>
                (init == 0 ? torch.zeros_like(v) : torch.full_like(v, init)).DetachFromDisposeScope()).ToList();
        }
        Built = true;
    }

    /// <summary>The state tensor of one kind for variable <paramref name="index"/>.</summary>
    public virtual Tensor Slot(string slot, int index) => slots[slot][index];

    // The slots this object holds itself (a wrapper such as LossScaleOptimizer holds none: its inner optimizer does).
    private protected virtual IReadOnlyList<string> OwnSlotNames => SlotNames;

    /// <summary>
    /// The loss to take gradients of (Keras's <c>scale_loss</c>): the loss itself, or for a <see cref="LossScaleOptimizer"/>
    /// the loss times the current scale.
    /// </summary>
    public virtual Tensor ScaleLoss(Tensor loss) => loss;

    /// <summary>Applies the gradients currently stored on the variables (<c>.grad</c>); variables without one are skipped.</summary>
    public void Step()
    {
        if (!Built) throw new InvalidOperationException($"{ClassName}: call Build with the variables before the first step.");
        using var scope = NewDisposeScope();
        Apply(variables.Select(v => v.grad).ToList());
    }

    /// <summary>Applies one gradient per variable (null: no gradient, the variable is left alone) — Keras's <c>apply</c>.</summary>
    public virtual void Apply(IReadOnlyList<Tensor?> gradients)
    {
        if (!Built) throw new InvalidOperationException($"{ClassName}: call Build with the variables before the first update.");
        if (gradients.Count != variables.Count)
            throw new ArgumentException($"{ClassName}: expected {variables.Count} gradients (one per variable); received {gradients.Count}.", nameof(gradients));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var grads = Clip(gradients);
        var lr = LearningRate;
        if (WeightDecay is { } wd && wd != 0)
            for (var i = 0; i < variables.Count; i++)
                if (grads[i] is not null) variables[i].sub_(variables[i] * (wd * lr));
        BeforeUpdates(lr);
        for (var i = 0; i < variables.Count; i++)
            if (grads[i] is { } g) UpdateStep(g, variables[i], i, lr);
        Iterations++;
    }

    /// <summary>Runs once per step before the per-variable updates (Keras's <c>_backend_update_step</c> hook).</summary>
    protected virtual void BeforeUpdates(double learningRate) { }

    /// <summary>Keras's <c>update_step</c>: updates <paramref name="variable"/> in place from <paramref name="gradient"/>.</summary>
    protected abstract void UpdateStep(Tensor gradient, Tensor variable, int index, double learningRate);

    /// <summary>The step number Keras's formulas use: <c>iterations + 1</c>.</summary>
    protected double LocalStep => Iterations + 1;

    private List<Tensor?> Clip(IReadOnlyList<Tensor?> grads)
    {
        if (ClipNorm is { } c)
            return grads.Select(g =>
            {
                if (g is null) return null;
                // Keras _clip_by_norm: g · c / max(‖g‖, c), with a zero norm left alone.
                var l2 = g.square().sum();
                var norm = torch.where(l2 > 0, l2.sqrt(), l2);
                return (Tensor?)(g * c / norm.clamp_min(c));
            }).ToList();
        if (GlobalClipNorm is { } gc)
        {
            var present = grads.Where(g => g is not null).Select(g => g!.square().sum()).ToList();
            if (present.Count == 0) return grads.ToList();
            var norm = torch.stack(present).sum().sqrt();
            // Keras clip_by_global_norm: scale = c · min(1/‖g‖, 1/c); a non-finite norm makes the scale NaN.
            var scale = torch.minimum(1.0 / norm, torch.tensor(1.0 / gc, dtype: norm.dtype, device: norm.device)) * gc + (norm - norm);
            return grads.Select(g => g is null ? null : (Tensor?)(g * scale)).ToList();
        }
        if (ClipValue is { } v)
            return grads.Select(g => g?.clamp(-v, v)).ToList();
        return grads.ToList();
    }

    /// <summary>
    /// Frees the state tensors now (otherwise the garbage collector does); the optimizer cannot be used afterwards.
    /// Not <see cref="IDisposable"/>, so that optimizers read like Keras's (<c>Adam()</c>) in F# too.
    /// </summary>
    public virtual void FreeState()
    {
        foreach (var list in slots.Values)
            foreach (var t in list) t.Dispose();
        slots.Clear();
        Built = false;
    }

    /// <summary>Keras's identifiers: <c>sgd</c>, <c>rmsprop</c>, <c>adagrad</c>, <c>adadelta</c>, <c>adam</c>, <c>adamw</c>, <c>adamax</c>, <c>nadam</c>, with Keras's defaults.</summary>
    public static implicit operator Optimizer(string identifier) => OptionConversion.Convert(identifier, i => Optimizers.Get(i!));

    internal static string Fmt(double? v) => v is null ? "None" : v.Value.ToString("R", CultureInfo.InvariantCulture);

    private protected double? Positive(double? value, string argument) =>
        value is null or > 0 && (value is null || double.IsFinite(value.Value)) ? value
            : throw new ArgumentException($"{ClassName}: expected argument '{argument}' to be a positive number. Received: {argument}={Fmt(value)}.", argument);

    private protected double Unit(double value, string argument, bool closedAbove = true) =>
        value >= 0 && (closedAbove ? value <= 1 : value < 1) ? value
            : throw new ArgumentException($"{ClassName}: expected argument '{argument}' to be a float in [0, 1{(closedAbove ? "]" : ")")}. Received: {argument}={Fmt(value)}.", argument);

    private protected double NonNegative(double value, string argument) =>
        double.IsFinite(value) && value >= 0 ? value
            : throw new ArgumentException($"{ClassName}: expected argument '{argument}' to be a non-negative number. Received: {argument}={Fmt(value)}.", argument);
}

/// <summary>
/// Keras <c>SGD</c> (learning rate 0.01): plain <c>w ← w − lr·g</c>; with momentum <c>m ← μm − lr·g; w ← w + m</c>; with
/// Nesterov <c>w ← w + μm − lr·g</c> (after updating m).
/// </summary>
/// <remarks>Differs from <c>torch.optim.SGD</c>, whose buffer is <c>μb + g</c> with the learning rate applied afterwards:
/// the two agree for a fixed rate but not when the rate changes during training, so Keras's form is used.</remarks>
public sealed class SGD : Optimizer
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public SGD(double learningRate = 0.01, double momentum = 0.0, bool nesterov = false, LearningRateSchedule? schedule = null,
        double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null, double? weightDecay = null, string name = "SGD")
        : base(name, learningRate, schedule, clipNorm, clipValue, globalClipNorm, weightDecay)
    {
        Momentum = momentum is >= 0 and <= 1 ? momentum
            : throw new ArgumentException($"SGD: `momentum` must be a float between [0, 1]. Received: momentum={Fmt(momentum)}.", nameof(momentum));
        Nesterov = nesterov;
    }

    /// <summary>Momentum μ (0: none).</summary>
    public double Momentum { get; }
    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => Momentum != 0 ? ["momentum"] : [];

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        if (Momentum == 0) { w.sub_(g * lr); return; }
        var m = Slot("momentum", i);
        m.mul_(Momentum).sub_(g * lr);
        if (Nesterov) w.add_(m * Momentum - g * lr);
        else w.add_(m);
    }
}

/// <summary>
/// Keras <c>RMSprop</c> (lr 0.001, rho 0.9, momentum 0, epsilon 1e-7): <c>v ← ρv + (1−ρ)g²</c>; centered also tracks
/// <c>a ← ρa + (1−ρ)g</c> and uses <c>v − a²</c>; the increment is <c>lr·g / sqrt(v + ε)</c>, through momentum if set.
/// </summary>
/// <remarks>Differs from <c>torch.optim.RMSprop</c>: Keras puts ε inside the square root and defaults ρ to 0.9 (PyTorch: ε
/// outside, α = 0.99, ε = 1e-8).</remarks>
public sealed class RMSprop : Optimizer
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public RMSprop(double learningRate = 0.001, double rho = 0.9, double momentum = 0.0, double epsilon = 1e-7, bool centered = false,
        LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null,
        double? weightDecay = null, string name = "rmsprop")
        : base(name, learningRate, schedule, clipNorm, clipValue, globalClipNorm, weightDecay)
    {
        Rho = Unit(rho, nameof(rho));
        Momentum = Unit(momentum, nameof(momentum));
        Epsilon = NonNegative(epsilon, nameof(epsilon));
        Centered = centered;
    }

    /// <summary>Discount of the squared-gradient average.</summary>
    public double Rho { get; }
    /// <summary>Momentum (0: none).</summary>
    public double Momentum { get; }
    /// <summary>Added inside the square root.</summary>
    public double Epsilon { get; }
    /// <summary>Whether gradients are normalised by their estimated variance.</summary>
    public bool Centered { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames
    {
        get
        {
            var names = new List<string> { "velocity" };
            if (Momentum > 0) names.Add("momentum");
            if (Centered) names.Add("average_gradient");
            return names;
        }
    }

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        var v = Slot("velocity", i);
        v.mul_(Rho).add_(g.square() * (1 - Rho));
        Tensor denominator;
        if (Centered)
        {
            var a = Slot("average_gradient", i);
            a.mul_(Rho).add_(g * (1 - Rho));
            denominator = v - a.square() + Epsilon;
        }
        else denominator = v + Epsilon;
        var increment = g * lr / denominator.sqrt();
        if (Momentum > 0)
        {
            var m = Slot("momentum", i);
            m.mul_(Momentum).add_(increment);
            w.sub_(m);
        }
        else w.sub_(increment);
    }
}

/// <summary>Keras <c>Adagrad</c> (lr 0.001, initial accumulator 0.1, epsilon 1e-7): <c>a ← a + g²; w ← w − lr·g / sqrt(a + ε)</c>.</summary>
/// <remarks>Differs from <c>torch.optim.Adagrad</c>: Keras starts the accumulator at 0.1 and puts ε inside the square root (PyTorch: 0 and ε = 1e-10 outside).</remarks>
public sealed class Adagrad : Optimizer
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public Adagrad(double learningRate = 0.001, double initialAccumulatorValue = 0.1, double epsilon = 1e-7,
        LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null,
        double? weightDecay = null, string name = "adagrad")
        : base(name, learningRate, schedule, clipNorm, clipValue, globalClipNorm, weightDecay)
    {
        InitialAccumulatorValue = NonNegative(initialAccumulatorValue, nameof(initialAccumulatorValue));
        Epsilon = NonNegative(epsilon, nameof(epsilon));
    }

    /// <summary>The accumulator's starting value.</summary>
    public double InitialAccumulatorValue { get; }
    /// <summary>Added inside the square root.</summary>
    public double Epsilon { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => ["accumulator"];

    /// <inheritdoc />
    protected override double SlotInitialValue(string slot) => InitialAccumulatorValue;

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        var a = Slot("accumulator", i);
        a.add_(g.square());
        w.sub_(g * lr / (a + Epsilon).sqrt());
    }
}

/// <summary>
/// Keras <c>Adadelta</c> (lr 0.001, rho 0.95, epsilon 1e-7): <c>G ← ρG + (1−ρ)g²; Δ = −sqrt(D + ε)/sqrt(G + ε)·g;
/// D ← ρD + (1−ρ)Δ²; w ← w + lr·Δ</c>.
/// </summary>
/// <remarks>The formula matches <c>torch.optim.Adadelta</c>; the defaults do not (PyTorch: lr 1.0, ρ 0.9, ε 1e-6).</remarks>
public sealed class Adadelta : Optimizer
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public Adadelta(double learningRate = 0.001, double rho = 0.95, double epsilon = 1e-7,
        LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null,
        double? weightDecay = null, string name = "adadelta")
        : base(name, learningRate, schedule, clipNorm, clipValue, globalClipNorm, weightDecay)
    {
        Rho = Unit(rho, nameof(rho));
        Epsilon = NonNegative(epsilon, nameof(epsilon));
    }

    /// <summary>Decay rate.</summary>
    public double Rho { get; }
    /// <summary>Added inside the square roots.</summary>
    public double Epsilon { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => ["accumulated_grad", "accumulated_delta_var"];

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        var accGrad = Slot("accumulated_grad", i);
        var accDelta = Slot("accumulated_delta_var", i);
        accGrad.mul_(Rho).add_(g.square() * (1 - Rho));
        var delta = -((accDelta + Epsilon).sqrt() * g / (accGrad + Epsilon).sqrt());
        accDelta.mul_(Rho).add_(delta.square() * (1 - Rho));
        w.add_(delta * lr);
    }
}

/// <summary>
/// The Adam family (<see cref="Adam"/>, <see cref="Adamax"/>, <see cref="Nadam"/>): a first-moment decay β₁, a second-moment
/// (or infinity-norm) decay β₂, both in [0, 1), and ε ≥ 0 added to the denominator, validated once here.
/// </summary>
public abstract class MomentOptimizer : Optimizer
{
    /// <summary>Validates and keeps β₁, β₂ and ε; the rest as <see cref="Optimizer"/>.</summary>
    protected MomentOptimizer(string name, double learningRate, double beta1, double beta2, double epsilon,
        LearningRateSchedule? schedule, double? clipNorm, double? clipValue, double? globalClipNorm, double? weightDecay)
        : base(name, learningRate, schedule, clipNorm, clipValue, globalClipNorm, weightDecay)
    {
        Beta1 = Unit(beta1, nameof(beta1), closedAbove: false);
        Beta2 = Unit(beta2, nameof(beta2), closedAbove: false);
        Epsilon = NonNegative(epsilon, nameof(epsilon));
    }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }
    /// <summary>Second-moment decay (for <see cref="Adamax"/>, the infinity-norm decay).</summary>
    public double Beta2 { get; }
    /// <summary>Added to the update's denominator (sqrt(v), sqrt(v̂), or Adamax's u).</summary>
    public double Epsilon { get; }
}

/// <summary>
/// Keras <c>Adam</c> (lr 0.001, β₁ 0.9, β₂ 0.999, epsilon 1e-7, amsgrad off): <c>m ← m + (g − m)(1−β₁); v ← v + (g² − v)(1−β₂);
/// α = lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ); w ← w − α·m/(sqrt(v) + ε)</c>; with amsgrad the running maximum of v is used.
/// </summary>
/// <remarks>Differs from <c>torch.optim.Adam</c> in where ε sits: Keras adds ε to <c>sqrt(v)</c> before the bias correction is
/// folded into α ("epsilon hat"), PyTorch adds it to <c>sqrt(v)/sqrt(1−β₂ᵗ)</c>; and Keras's default ε is 1e-7 (PyTorch 1e-8).</remarks>
public class Adam : MomentOptimizer
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public Adam(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7, bool amsgrad = false,
        LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null,
        double? weightDecay = null, string name = "adam")
        : base(name, learningRate, beta1, beta2, epsilon, schedule, clipNorm, clipValue, globalClipNorm, weightDecay)
    {
        Amsgrad = amsgrad;
    }

    /// <summary>Whether the AMSGrad variant is used.</summary>
    public bool Amsgrad { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => Amsgrad ? ["momentum", "velocity", "velocity_hat"] : ["momentum", "velocity"];

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        var t = LocalStep;
        var alpha = lr * Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t));
        var m = Slot("momentum", i);
        var v = Slot("velocity", i);
        // In place, one temporary: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − α·m/(√v + ε) — Keras's update,
        // written as libtorch's fused in-place kernels so the step costs what torch.optim.Adam's does.
        m.mul_(Beta1).add_(g, alpha: 1 - Beta1);
        v.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
        if (Amsgrad)
        {
            var vHat = Slot("velocity_hat", i);
            vHat.copy_(torch.maximum(vHat, v));
            v = vHat;
        }
        using var denominator = v.sqrt().add_(Epsilon);
        w.addcdiv_(m, denominator, value: -alpha);
    }
}

/// <summary>Keras <c>AdamW</c>: <see cref="Adam"/> with decoupled weight decay 0.004 by default.</summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public AdamW(double learningRate = 0.001, double weightDecay = 0.004, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7,
        bool amsgrad = false, LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null,
        double? globalClipNorm = null, string name = "adamw")
        : base(learningRate, beta1, beta2, epsilon, amsgrad, schedule, clipNorm, clipValue, globalClipNorm, weightDecay, name) { }
}

/// <summary>
/// Keras <c>Adamax</c> (lr 0.001, β₁ 0.9, β₂ 0.999, epsilon 1e-7): <c>m ← m + (g − m)(1−β₁); u ← max(β₂u, |g|);
/// w ← w − lr·m / ((1−β₁ᵗ)(u + ε))</c>.
/// </summary>
/// <remarks>Differs from <c>torch.optim.Adamax</c>, which adds ε inside the maximum (<c>max(β₂u, |g| + ε)</c>).</remarks>
public sealed class Adamax : MomentOptimizer
{
    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public Adamax(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7,
        LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null,
        double? weightDecay = null, string name = "adamax")
        : base(name, learningRate, beta1, beta2, epsilon, schedule, clipNorm, clipValue, globalClipNorm, weightDecay) { }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => ["momentum", "norm"];

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        var m = Slot("momentum", i);
        var u = Slot("norm", i);
        m.add_((g - m) * (1 - Beta1));
        u.copy_(torch.maximum(u * Beta2, g.abs()));
        w.sub_(m * lr / ((u + Epsilon) * (1 - Math.Pow(Beta1, LocalStep))));
    }
}

/// <summary>
/// Keras <c>Nadam</c> (lr 0.001, β₁ 0.9, β₂ 0.999, epsilon 1e-7): momentum schedule <c>μₜ = β₁(1 − ½·0.96ᵗ)</c>, running
/// product <c>Πμ</c>; <c>m̂ = μₜ₊₁m/(1 − Πμ·μₜ₊₁) + (1 − μₜ)g/(1 − Πμ)</c>, <c>v̂ = v/(1 − β₂ᵗ)</c>, <c>w ← w − lr·m̂/(sqrt(v̂) + ε)</c>.
/// </summary>
/// <remarks>Differs from <c>torch.optim.NAdam</c>, whose schedule is <c>β₁(1 − ½·0.96^(0.004·t))</c> (momentum decay 0.004).</remarks>
public sealed class Nadam : MomentOptimizer
{
    private double uProduct = 1.0;

    /// <summary>Creates the optimizer with Keras's defaults.</summary>
    public Nadam(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7,
        LearningRateSchedule? schedule = null, double? clipNorm = null, double? clipValue = null, double? globalClipNorm = null,
        double? weightDecay = null, string name = "nadam")
        : base(name, learningRate, beta1, beta2, epsilon, schedule, clipNorm, clipValue, globalClipNorm, weightDecay) { }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => ["momentum", "velocity"];

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, double> ScalarState => new Dictionary<string, double> { ["u_product"] = uProduct };

    /// <inheritdoc />
    public override void RestoreScalarState(IReadOnlyDictionary<string, double> state)
    {
        if (state.TryGetValue("u_product", out var u)) uProduct = u;
    }

    /// <inheritdoc />
    protected override void BeforeUpdates(double learningRate) =>
        uProduct *= Beta1 * (1.0 - 0.5 * Math.Pow(0.96, LocalStep));

    /// <inheritdoc />
    protected override void UpdateStep(Tensor g, Tensor w, int i, double lr)
    {
        var t = LocalStep;
        var uT = Beta1 * (1.0 - 0.5 * Math.Pow(0.96, t));
        var uT1 = Beta1 * (1.0 - 0.5 * Math.Pow(0.96, t + 1));
        var uProductT1 = uProduct * uT1;
        var m = Slot("momentum", i);
        var v = Slot("velocity", i);
        m.add_((g - m) * (1 - Beta1));
        v.add_((g.square() - v) * (1 - Beta2));
        var mHat = m * (uT1 / (1 - uProductT1)) + g * ((1 - uT) / (1 - uProduct));
        var vHat = v / (1 - Math.Pow(Beta2, t));
        w.sub_(mHat * lr / (vHat.sqrt() + Epsilon));
    }
}

/// <summary>
/// Keras's <c>LossScaleOptimizer</c>: dynamic loss scaling around any optimizer, for float16 training, whose small gradients
/// would otherwise underflow. The loss is multiplied by <see cref="DynamicScale"/> (starting at <see cref="InitialScale"/>,
/// 2¹⁵) before the gradients are taken. A step whose gradients are all finite divides them by the scale and lets the inner
/// optimizer apply them; after <see cref="DynamicGrowthSteps"/> such steps in a row the scale doubles. A step with any
/// infinite or NaN gradient is skipped (the weights, the inner optimizer's state and its iterations are untouched) and the
/// scale halves. <c>Compile</c> wraps the optimizer in one for models with the <c>mixed_float16</c> policy, as Keras does.
/// </summary>
/// <remarks>
/// Keras doubles the scale before dividing the gradients of the growing step by it; here every step's gradients are divided
/// by the scale its loss was multiplied by, so the growing step's update is not halved. The learning rate, the iterations
/// and the per-weight state are the inner optimizer's.
/// </remarks>
public sealed class LossScaleOptimizer : Optimizer
{
    private int stepCounter;

    /// <summary>Wraps <paramref name="innerOptimizer"/> with Keras's defaults (initial scale 2¹⁵, growth after 2000 finite steps).</summary>
    /// <exception cref="ArgumentException">A non-positive or non-finite scale, growth steps below 1, an inner optimizer that
    /// already holds state, or another loss-scale optimizer.</exception>
    public LossScaleOptimizer(Optimizer innerOptimizer, double initialScale = 32768.0, int dynamicGrowthSteps = 2000, string name = "loss_scale_optimizer")
        : base(name, 0.0, null, null, null, null, null)
    {
        ArgumentNullException.ThrowIfNull(innerOptimizer);
        if (innerOptimizer is LossScaleOptimizer)
            throw new ArgumentException("LossScaleOptimizer: the inner optimizer is already a LossScaleOptimizer.", nameof(innerOptimizer));
        if (innerOptimizer.Built)
            throw new ArgumentException($"LossScaleOptimizer: the inner {innerOptimizer.ClassName} already holds state for another model; create a new one.", nameof(innerOptimizer));
        if (!(double.IsFinite(initialScale) && initialScale > 0))
            throw new ArgumentException($"LossScaleOptimizer: expected argument 'initialScale' to be a positive number. Received: initialScale={Fmt(initialScale)}.", nameof(initialScale));
        if (dynamicGrowthSteps < 1)
            throw new ArgumentException($"LossScaleOptimizer: expected argument 'dynamicGrowthSteps' to be a positive integer. Received: dynamicGrowthSteps={dynamicGrowthSteps}.", nameof(dynamicGrowthSteps));
        InnerOptimizer = innerOptimizer;
        InitialScale = initialScale;
        DynamicGrowthSteps = dynamicGrowthSteps;
        DynamicScale = initialScale;
    }

    /// <summary>The optimizer that applies the unscaled gradients.</summary>
    public Optimizer InnerOptimizer { get; }

    /// <summary>The scale of the first step (Keras's <c>initial_scale</c>).</summary>
    public double InitialScale { get; }

    /// <summary>How many finite steps in a row double the scale (Keras's <c>dynamic_growth_steps</c>).</summary>
    public int DynamicGrowthSteps { get; }

    /// <summary>The scale the next step's loss is multiplied by (Keras's <c>dynamic_scale</c>).</summary>
    public double DynamicScale { get; private set; }

    /// <summary>Finite steps since the scale last changed (Keras's <c>step_counter</c>).</summary>
    public int StepCounter => stepCounter;

    /// <summary>The inner optimizer's steps (skipped steps do not count).</summary>
    public override long Iterations { get => InnerOptimizer.Iterations; set => InnerOptimizer.Iterations = value; }

    /// <summary>The inner optimizer's learning rate.</summary>
    public override double LearningRate { get => InnerOptimizer.LearningRate; set => InnerOptimizer.LearningRate = value; }

    /// <inheritdoc />
    public override IReadOnlyList<string> SlotNames => InnerOptimizer.SlotNames;

    private protected override IReadOnlyList<string> OwnSlotNames => [];

    /// <inheritdoc />
    public override Tensor Slot(string slot, int index) => InnerOptimizer.Slot(slot, index);

    /// <inheritdoc />
    public override void Build(IEnumerable<Parameter> parameters)
    {
        if (Built) return;
        var list = parameters.ToList();
        InnerOptimizer.Build(list);
        base.Build(list);
    }

    /// <summary>The loss times <see cref="DynamicScale"/>.</summary>
    public override Tensor ScaleLoss(Tensor loss) => loss * DynamicScale;

    /// <summary>Applies gradients of the scaled loss: unscaled and applied by the inner optimizer when all are finite; otherwise skipped, halving the scale.</summary>
    public override void Apply(IReadOnlyList<Tensor?> gradients)
    {
        if (!Built) throw new InvalidOperationException($"{ClassName}: call Build with the variables before the first update.");
        if (gradients.Count != Variables.Count)
            throw new ArgumentException($"{ClassName}: expected {Variables.Count} gradients (one per variable); received {gradients.Count}.", nameof(gradients));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var present = gradients.Where(g => g is not null).Select(g => g!.isfinite().all()).ToList();
        var finite = present.Count == 0 || torch.stack(present).all().item<bool>();
        if (!finite)
        {
            stepCounter = 0;
            DynamicScale /= 2;
            return;
        }
        var scale = DynamicScale;
        if (stepCounter == DynamicGrowthSteps - 1)
        {
            stepCounter = 0;
            DynamicScale *= 2;
        }
        else stepCounter++;
        InnerOptimizer.Apply(gradients.Select(g => g is null ? null : (Tensor?)(g / scale)).ToList());
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, double> ScalarState =>
        new Dictionary<string, double>(InnerOptimizer.ScalarState) { ["dynamic_scale"] = DynamicScale, ["step_counter"] = stepCounter };

    /// <inheritdoc />
    public override void RestoreScalarState(IReadOnlyDictionary<string, double> state)
    {
        InnerOptimizer.RestoreScalarState(state.Where(kv => kv.Key is not ("dynamic_scale" or "step_counter")).ToDictionary());
        if (state.TryGetValue("dynamic_scale", out var s)) DynamicScale = s;
        if (state.TryGetValue("step_counter", out var c)) stepCounter = (int)c;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Config
    {
        get
        {
            var config = new Dictionary<string, string>
            {
                ["name"] = Name,
                ["inner_optimizer"] = InnerOptimizer.ClassName,
                ["initial_scale"] = Fmt(InitialScale),
                ["dynamic_growth_steps"] = DynamicGrowthSteps.ToString(CultureInfo.InvariantCulture),
            };
            foreach (var (k, v) in InnerOptimizer.Config) config[$"inner_optimizer.{k}"] = v;
            return config;
        }
    }

    /// <inheritdoc />
    public override void FreeState()
    {
        InnerOptimizer.FreeState();
        base.FreeState();
    }

    /// <inheritdoc />
    protected override void UpdateStep(Tensor gradient, Tensor variable, int index, double learningRate) =>
        throw new InvalidOperationException("LossScaleOptimizer applies updates through its inner optimizer.");
}

/// <summary>Looks optimizers up by Keras's identifiers.</summary>
public static class Optimizers
{
    /// <summary>Resolves <c>sgd</c>, <c>rmsprop</c>, <c>adagrad</c>, <c>adadelta</c>, <c>adam</c>, <c>adamw</c>, <c>adamax</c> or <c>nadam</c> (case-insensitive) with Keras's defaults.</summary>
    /// <exception cref="ArgumentException">An unknown identifier, named in the message.</exception>
    public static Optimizer Get(string identifier)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        return identifier.Trim().ToLowerInvariant() switch
        {
            "sgd" => new SGD(),
            "rmsprop" => new RMSprop(),
            "adagrad" => new Adagrad(),
            "adadelta" => new Adadelta(),
            "adam" => new Adam(),
            "adamw" => new AdamW(),
            "adamax" => new Adamax(),
            "nadam" => new Nadam(),
            _ => throw new ArgumentException(
                $"Could not interpret optimizer identifier: '{identifier}'. Known: sgd, rmsprop, adagrad, adadelta, adam, adamw, adamax, nadam.", nameof(identifier)),
        };
    }
}
