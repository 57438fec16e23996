using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Functional.Torch;

/// <summary>Fills tensors as Keras's initializers do, with fans computed on the Keras-layout shape.</summary>
public static class InitializerSampling
{
    private static readonly Dictionary<Type, Action<Initializer, Tensor, (double FanIn, double FanOut)>> Samplers = new()
    {
        [typeof(Zeros)] = (_, t, _) => t.zero_(),
        [typeof(Ones)] = (_, t, _) => t.fill_(1.0),
        [typeof(GlorotUniform)] = (i, t, f) =>
        {
            var limit = Math.Sqrt(6.0 / (f.FanIn + f.FanOut));
            Uniform(t, -limit, limit, ((GlorotUniform)i).Seed);
        },
    };

    /// <summary>Registers how to sample an initializer type (used by the catalogue and by user extensions).</summary>
    public static void Register<T>(Action<T, Tensor, (double FanIn, double FanOut)> sampler) where T : Initializer =>
        Samplers[typeof(T)] = (i, t, f) => sampler((T)i, t, f);

    /// <summary>
    /// Fills <paramref name="target"/> in place. <paramref name="kerasShape"/> is the weight's shape in Keras's layout,
    /// which decides the fans; the target may be laid out differently (PyTorch's) as long as it has as many elements.
    /// </summary>
    public static void Fill(Tensor target, Initializer initializer, IReadOnlyList<int> kerasShape)
    {
        if (!Samplers.TryGetValue(initializer.GetType(), out var sampler))
            throw new NotSupportedException($"No sampler is registered for initializer {initializer.ClassName}.");
        using var _ = no_grad();
        sampler(initializer, target, Initializer.ComputeFans(kerasShape));
    }

    /// <summary>A generator for a seeded initializer, or null for the global one.</summary>
    public static Generator? GeneratorFor(int? seed) => seed is { } s ? new Generator((ulong)s) : null;

    /// <summary>U(low, high) in place, on the CPU generator (then copied) so seeded draws are the same on every device.</summary>
    public static void Uniform(Tensor t, double low, double high, int? seed)
    {
        using var g = GeneratorFor(seed);
        using var cpu = torch.empty(t.shape, t.dtype, CPU);
        cpu.uniform_(low, high, g);
        t.copy_(cpu);
    }

    /// <summary>N(mean, std) in place, drawn on the CPU like <see cref="Uniform"/>.</summary>
    public static void Normal(Tensor t, double mean, double std, int? seed)
    {
        using var g = GeneratorFor(seed);
        using var cpu = torch.empty(t.shape, t.dtype, CPU);
        cpu.normal_(mean, std, g);
        t.copy_(cpu);
    }
}
