using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>
/// Samples Keras's initializers (keras/src/initializers): values are drawn in the weight's Keras layout on the CPU, with
/// fans from the Keras-layout shape, then moved into the parameter's layout (PyTorch's) and device. So a weight's Keras
/// view holds exactly <see cref="Sample"/>'s values, whatever layout the backend stores it in, and a seeded initializer
/// gives the same values on every build and every device.
/// </summary>
public static class InitializerSampling
{
    private static readonly Dictionary<Type, Action<Initializer, Tensor, (double FanIn, double FanOut)>> Samplers = new()
    {
        [typeof(Zeros)] = (_, t, _) => t.zero_(),
        [typeof(Ones)] = (_, t, _) => t.fill_(1.0),
        [typeof(Constant)] = (i, t, _) => t.fill_(((Constant)i).Value),
        [typeof(Identity)] = (i, t, _) => FillIdentity(t, ((Identity)i).Gain),
        [typeof(RandomNormal)] = (i, t, _) =>
        {
            var r = (RandomNormal)i;
            Normal(t, r.Mean, r.Stddev, r.Seed);
        },
        [typeof(RandomUniform)] = (i, t, _) =>
        {
            var r = (RandomUniform)i;
            Uniform(t, r.Minval, r.Maxval, r.Seed);
        },
        [typeof(TruncatedNormal)] = (i, t, _) =>
        {
            var r = (TruncatedNormal)i;
            TruncatedNormal(t, r.Mean, r.Stddev, r.Seed);
        },
        // Also GlorotUniform, HeNormal, … (found through the base type).
        [typeof(VarianceScaling)] = (i, t, _) =>
        {
            var v = (VarianceScaling)i;
            var shape = t.shape.Select(d => (int)d).ToArray();
            var parameter = v.DistributionParameter(shape);
            switch (v.Distribution)
            {
                case "truncated_normal": TruncatedNormal(t, 0.0, parameter, v.Seed); break;
                case "untruncated_normal": Normal(t, 0.0, parameter, v.Seed); break;
                default: Uniform(t, -parameter, parameter, v.Seed); break;
            }
        },
        [typeof(Orthogonal)] = (i, t, _) =>
        {
            var o = (Orthogonal)i;
            FillOrthogonal(t, o.Gain, o.Seed);
        },
        // Keras's LSTM bias with unit_forget_bias: concat(inner(units), ones(units), inner(2·units)).
        [typeof(Functional.Layers.UnitForgetBiasInitializer)] = (i, t, _) =>
        {
            var b = (Functional.Layers.UnitForgetBiasInitializer)i;
            using var first = Sample(b.Inner, [b.Units], t.dtype);
            using var rest = Sample(b.Inner, [2 * b.Units], t.dtype);
            using (var part = t.narrow(0, 0, b.Units)) part.copy_(first);
            using (var part = t.narrow(0, b.Units, b.Units)) part.fill_(1.0);
            using (var part = t.narrow(0, 2 * b.Units, 2 * b.Units)) part.copy_(rest);
        },
    };

    /// <summary>
    /// Registers how to sample an initializer type (the extension point for custom initializers). The sampler fills a
    /// CPU tensor laid out in Keras's layout, given the fans of that shape.
    /// </summary>
    public static void Register<T>(Action<T, Tensor, (double FanIn, double FanOut)> sampler) where T : Initializer
    {
        ArgumentNullException.ThrowIfNull(sampler);
        lock (Samplers) Samplers[typeof(T)] = (i, t, f) => sampler((T)i, t, f);
    }

    /// <summary>
    /// Draws a new CPU tensor of Keras-layout shape <paramref name="kerasShape"/> from <paramref name="initializer"/>
    /// (fans from that shape, as Keras's <c>compute_fans</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The initializer cannot fill this shape (e.g. Identity on a 3-D kernel).</exception>
    /// <exception cref="NotSupportedException">No sampler is registered for the initializer's type.</exception>
    public static Tensor Sample(Initializer initializer, IReadOnlyList<int> kerasShape, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(initializer);
        ArgumentNullException.ThrowIfNull(kerasShape);
        if (kerasShape.Any(d => d < 0))
            throw new ArgumentException($"{initializer.ClassName}: a weight shape cannot have negative dimensions. Received: shape={Initializer.FormatShape(kerasShape)}.", nameof(kerasShape));
        initializer.CheckShape(kerasShape);
        var sampler = FindSampler(initializer.GetType())
            ?? throw new NotSupportedException(
                $"No sampler is registered for initializer {initializer.ClassName}. Register one with InitializerSampling.Register.");
        var t = torch.empty(kerasShape.Select(d => (long)d).ToArray(), dtype, CPU);
        try
        {
            using var _ = no_grad();
            sampler(initializer, t, Initializer.ComputeFans(kerasShape));
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills <paramref name="target"/> in place with <see cref="Sample"/>'s values for <paramref name="kerasShape"/>.
    /// <paramref name="kerasPermutation"/> is the permutation from the target's layout to Keras's (the one
    /// <see cref="WeightBinding"/> uses, e.g. <c>[1, 0]</c> for a Dense kernel stored as PyTorch's (units, in)); null means
    /// the target is stored in Keras's layout. The layout is never guessed from the shapes: they coincide for some weights
    /// (a 3×3 kernel with 3 filters on 3 channels has the same shape in both layouts), and a guess there would put seeded
    /// draws, and the structure of Orthogonal or Identity, in the wrong places.
    /// </summary>
    /// <exception cref="ArgumentException">The target, seen through the permutation, is not a weight of that Keras shape.</exception>
    public static void Fill(Tensor target, Initializer initializer, IReadOnlyList<int> kerasShape, long[]? kerasPermutation)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(initializer);
        ArgumentNullException.ThrowIfNull(kerasShape);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var keras = kerasShape.Select(d => (long)d).ToArray();
        if (kerasPermutation is not null && (kerasPermutation.Length != target.dim()
                || !kerasPermutation.Order().SequenceEqual(Enumerable.Range(0, (int)target.dim()).Select(i => (long)i))))
            throw new ArgumentException(
                $"{initializer.ClassName}: ({string.Join(", ", kerasPermutation)}) is not a permutation of the axes of a tensor of rank {target.dim()}.",
                nameof(kerasPermutation));
        var view = kerasPermutation is null ? target : target.permute(kerasPermutation);
        if (!view.shape.SequenceEqual(keras))
            throw new ArgumentException(
                $"{initializer.ClassName}: the tensor of shape ({string.Join(", ", target.shape)})" +
                (kerasPermutation is null ? "" : $" permuted by ({string.Join(", ", kerasPermutation)})") +
                $" is not the Keras shape {Initializer.FormatShape(kerasShape)}" +
                (kerasPermutation is null && target.numel() == keras.Aggregate(1L, (x, y) => x * y)
                    ? "; pass the permutation from its layout to Keras's." : "."),
                nameof(target));
        // 16-bit weights (the float16 and bfloat16 policies) are drawn in float32 and rounded, as Keras draws then casts.
        var drawn = target.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? ScalarType.Float32 : target.dtype;
        view.copy_(Sample(initializer, kerasShape, drawn));
    }

    /// <summary>A generator for a seeded initializer, or null for the global one.</summary>
    public static Generator? GeneratorFor(int? seed) => seed is { } s ? new Generator(unchecked((ulong)s)) : null;

    /// <summary>U[low, high) in place, drawn on the CPU (then copied) so seeded draws are the same on every device.</summary>
    public static void Uniform(Tensor t, double low, double high, int? seed)
    {
        using var g = GeneratorFor(seed);
        using var cpu = torch.empty(t.shape, t.dtype, CPU);
        cpu.uniform_(low, high, g);
        t.copy_(cpu);
    }

    /// <summary>N(mean, std²) in place, drawn on the CPU like <see cref="Uniform"/>.</summary>
    public static void Normal(Tensor t, double mean, double std, int? seed)
    {
        using var g = GeneratorFor(seed);
        using var cpu = torch.empty(t.shape, t.dtype, CPU);
        cpu.normal_(mean, std, g);
        t.copy_(cpu);
    }

    /// <summary>
    /// mean + std·z in place, z standard normal truncated to (−2, 2): every z with |z| ≥ 2 is re-drawn until none is left
    /// (TensorFlow's and Keras's truncated normal), drawn on the CPU like <see cref="Uniform"/>.
    /// </summary>
    public static void TruncatedNormal(Tensor t, double mean, double std, int? seed)
    {
        using var g = GeneratorFor(seed);
        using var scope = NewDisposeScope();
        var z = torch.empty(t.shape, t.dtype, CPU);
        z.normal_(0.0, 1.0, g);
        while (true)
        {
            var outside = z.abs().ge(2.0);
            var count = outside.sum().item<long>();
            if (count == 0) break;
            var redrawn = torch.empty(count, t.dtype, CPU).normal_(0.0, 1.0, g);
            z.masked_scatter_(outside, redrawn);
        }
        t.copy_(z.mul_(std).add_(mean));
    }

    /// <summary>gain · eye(rows, cols) in place (Keras's Identity; the tensor must be 2-D).</summary>
    public static void FillIdentity(Tensor t, double gain)
    {
        if (t.dim() != 2)
            throw new ArgumentException(
                $"Identity matrix initializer can only be used for 2D matrices. Received: shape=({string.Join(", ", t.shape)}) of rank {t.dim()}.", nameof(t));
        using var eye = torch.eye(t.shape[0], t.shape[1], t.dtype, t.device);
        t.copy_(eye.mul_(gain));
    }

    /// <summary>
    /// Keras's Orthogonal in place on a Keras-layout tensor: a (max(r, c), min(r, c)) standard normal matrix
    /// (r = shape[0]·…·shape[−2], c = shape[−1]) is QR-factorised, Q's columns take the signs of R's diagonal, Q is
    /// transposed when r &lt; c, reshaped to the weight and multiplied by the gain. Drawn on the CPU in float64.
    /// </summary>
    public static void FillOrthogonal(Tensor t, double gain, int? seed)
    {
        if (t.dim() < 2)
            throw new ArgumentException(
                $"The tensor to initialize must be at least two-dimensional. Received: shape=({string.Join(", ", t.shape)}) of rank {t.dim()}.", nameof(t));
        if (t.numel() == 0) return;
        using var g = GeneratorFor(seed);
        using var scope = NewDisposeScope();
        var rows = t.shape[..^1].Aggregate(1L, (a, b) => a * b);
        var cols = t.shape[^1];
        var a = torch.empty(Math.Max(rows, cols), Math.Min(rows, cols), ScalarType.Float64, CPU).normal_(0.0, 1.0, g);
        var (q, r) = torch.linalg.qr(a);
        var q2 = q * r.diagonal().sign();   // sign of diag(R) per column
        if (rows < cols) q2 = q2.t();
        t.copy_((q2.reshape(t.shape) * gain).to(t.dtype));
    }

    private static Action<Initializer, Tensor, (double FanIn, double FanOut)>? FindSampler(Type type)
    {
        lock (Samplers)
            for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
                if (Samplers.TryGetValue(t, out var sampler)) return sampler;
        return null;
    }
}
