using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>
/// Keras 3's activation functions on tensors, each with Keras's defaults (keras/src/activations/activations.py and the
/// torch backend's keras/src/backend/torch/nn.py): <c>gelu</c> is exact (approximate=False), <c>leaky_relu</c> has
/// negative_slope 0.2, <c>elu</c>/<c>celu</c> alpha 1, the shrink functions threshold 0.5, <c>squareplus</c> b = 4.
/// </summary>
public static class ActivationOps
{
    /// <summary>SELU's α (Keras, Klambauer et al. 2017).</summary>
    public const double SeluAlpha = 1.6732632423543772848170429916717;

    /// <summary>SELU's scale (Keras, Klambauer et al. 2017).</summary>
    public const double SeluScale = 1.0507009873554804934193349852946;

    // One kernel per activation of the catalogue (ActivationFunction.All), keyed by the catalogue's own values, so no name
    // is written here; the static constructor fails at once if the catalogue gains an activation without a kernel.
    private static readonly Dictionary<ActivationFunction, Func<Tensor, long, Tensor>> Kernels = new()
    {
        [ActivationFunction.Linear] = (x, axis) => x.alias(),
        [ActivationFunction.Relu] = (x, axis) => F.relu(x),
        [ActivationFunction.Relu6] = (x, axis) => F.relu6(x),
        // keras.activations.leaky_relu defaults negative_slope to 0.2 (unlike the LeakyReLU layer's 0.3).
        [ActivationFunction.LeakyRelu] = (x, axis) => F.leaky_relu(x, 0.2),
        [ActivationFunction.Sigmoid] = (x, axis) => F.sigmoid(x),
        // Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6 (0 for x ≤ −3, 1 for x ≥ 3).
        [ActivationFunction.HardSigmoid] = (x, axis) => F.relu6(x + 3.0) / 6.0,
        // Keras 2 (legacy files): clip(0.2·x + 0.5, 0, 1).
        [ActivationFunction.HardSigmoidKeras2] = (x, axis) => (x * 0.2 + 0.5).clamp(0.0, 1.0),
        // Keras: 0 for x ≤ −1, 1 for x ≥ 1, (x + 1)/2 between.
        [ActivationFunction.SparseSigmoid] = (x, axis) => torch.where(x.le(-1.0), torch.zeros_like(x),
                torch.where(x.ge(1.0), torch.ones_like(x), (x + 1.0) * 0.5)),
        [ActivationFunction.LogSigmoid] = (x, axis) => F.logsigmoid(x),
        [ActivationFunction.Tanh] = (x, axis) => x.tanh(),
        [ActivationFunction.HardTanh] = (x, axis) => x.clamp(-1.0, 1.0),
        [ActivationFunction.TanhShrink] = (x, axis) => x - x.tanh(),
        [ActivationFunction.Softmax] = (x, axis) => F.softmax(x, axis),
        [ActivationFunction.LogSoftmax] = (x, axis) => F.log_softmax(x, axis),
        [ActivationFunction.Sparsemax] = (x, axis) => Sparsemax(x, axis),
        [ActivationFunction.Elu] = (x, axis) => F.elu(x, 1.0),
        [ActivationFunction.Selu] = (x, axis) => F.selu(x),
        // celu(x) = max(0, x) + min(0, α(exp(x/α) − 1)), α = 1.
        [ActivationFunction.Celu] = (x, axis) => F.celu(x, 1.0, false),
        [ActivationFunction.Gelu] = (x, axis) => F.gelu(x),
        [ActivationFunction.Softplus] = (x, axis) => F.softplus(x),
        [ActivationFunction.Softsign] = (x, axis) => x / (x.abs() + 1.0),
        // squareplus(x) = (x + √(x² + b)) / 2, b = 4.
        [ActivationFunction.Squareplus] = (x, axis) => (x + (x.square() + 4.0).sqrt()) / 2.0,
        // sparse_plus: 0 for x ≤ −1, x for x ≥ 1, (x + 1)²/4 between.
        [ActivationFunction.SparsePlus] = (x, axis) => torch.where(x.le(-1.0), torch.zeros_like(x),
                torch.where(x.lt(1.0), (x + 1.0).square() * 0.25, x)),
        [ActivationFunction.SoftShrink] = (x, axis) => torch.where(x.gt(0.5), x - 0.5, torch.where(x.lt(-0.5), x + 0.5, torch.zeros_like(x))),
        [ActivationFunction.HardShrink] = (x, axis) => torch.where(x.abs().gt(0.5), x, torch.zeros_like(x)),
        [ActivationFunction.Silu] = (x, axis) => F.silu(x),
        // hard_silu(x) = x · relu6(x + 3) / 6.
        [ActivationFunction.HardSilu] = (x, axis) => x * (F.relu6(x + 3.0) / 6.0),
        [ActivationFunction.Exponential] = (x, axis) => x.exp(),
        [ActivationFunction.Mish] = (x, axis) => x * F.softplus(x).tanh(),
    };

    static ActivationOps()
    {
        var missing = ActivationFunction.All.Where(a => !Kernels.ContainsKey(a)).Select(a => a.Name).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"No tensor kernel for the activation(s) {string.Join(", ", missing)}.");
    }

    /// <summary>
    /// Applies <paramref name="activation"/> to <paramref name="x"/>, returning a new tensor; <paramref name="axis"/> is the
    /// tensor axis that softmax, log_softmax and sparsemax normalise over (Keras's default, the last axis).
    /// </summary>
    public static Tensor Apply(ActivationFunction activation, Tensor x, long axis = -1)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        var y = Kernels.TryGetValue(activation, out var kernel)
            ? kernel(x, axis)
            : throw new NotSupportedException($"Activation '{activation.Name}' has no tensor implementation.");
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>True when the activation mixes values along an axis (so layout matters).</summary>
    public static bool IsAxisDependent(ActivationFunction activation) => activation.IsAxisDependent;

    /// <summary>
    /// Keras's sparsemax, exactly as every Keras 3 backend computes it: sort descending along the axis, cumulative sums
    /// c_j, support j where z_(j) − (c_j − 1)/j &gt; 0, k = |support|, τ = (Σ_{j in support} c_j − 1)/k, output max(x − τ, 0).
    /// </summary>
    /// <remarks>
    /// Keras sums the cumulative sums over the support where Martins &amp; Astudillo's sparsemax uses c_k alone; the two
    /// agree when the support has one element. We follow Keras.
    /// </remarks>
    private static Tensor Sparsemax(Tensor logits, long axis)
    {
        var dim = axis < 0 ? axis + logits.dim() : axis;
        if (dim < 0 || dim >= logits.dim())
            throw new ArgumentOutOfRangeException(nameof(axis), $"sparsemax: axis {axis} is out of range for a tensor of rank {logits.dim()}.");
        var (sorted, _) = logits.sort(dim, descending: true);
        var cumsum = sorted.cumsum(dim);
        var n = logits.shape[dim];
        var rShape = Enumerable.Repeat(1L, (int)logits.dim()).ToArray();
        rShape[dim] = n;
        var r = torch.arange(1, n + 1, dtype: logits.dtype, device: logits.device).view(rShape);
        var support = (sorted - (cumsum - 1.0) / r).gt(0.0);
        var k = support.to_type(logits.dtype).sum(dim, keepdim: true);
        var safe = torch.where(support, cumsum, torch.zeros_like(cumsum));
        var tau = (safe.sum(dim, keepdim: true) - 1.0) / k;
        return (logits - tau).clamp(min: 0.0);
    }
}
