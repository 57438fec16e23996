using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Keras 3's LoRA (low-rank adaptation) for <see cref="Dense"/> and <see cref="Conv1D"/>/<see cref="Conv2D"/>/<see cref="Conv3D"/>
/// (keras/src/layers/core/dense.py and convolutional/base_conv.py, <c>enable_lora</c>): the kernel is frozen and the layer
/// computes with <c>kernel + (lora_kernel_a · lora_kernel_b) · lora_alpha / lora_rank</c>.
/// </summary>
/// <remarks>
/// Weights, after the layer's own <c>kernel</c> (now non-trainable) and <c>bias</c>: <c>lora_kernel_a</c> of shape
/// <c>kernel.shape[:-1] + (rank,)</c>, initialised <c>he_uniform</c>, and <c>lora_kernel_b</c> of shape
/// <c>(rank, kernel.shape[-1])</c>, initialised <c>zeros</c> (so a fresh adapter leaves the output unchanged); both are
/// trainable and carry the kernel's regularizer, as in Keras.
/// </remarks>
internal static class Lora
{
    /// <summary>The two adapter weights for a kernel of Keras shape <paramref name="kernel"/>.</summary>
    public static IEnumerable<ParameterSpec> AdapterSpecs(Shape kernel, int rank, Regularizer? kernelRegularizer)
    {
        yield return new("lora_kernel_a", new Shape([.. kernel.Take(kernel.Rank - 1), rank]), new HeUniform(), true, kernelRegularizer);
        yield return new("lora_kernel_b", new Shape(rank, kernel[-1]), new Zeros(), true, kernelRegularizer);
    }

    /// <summary>Keras's scaling of the low-rank delta: <c>lora_alpha / lora_rank</c>, with <c>lora_alpha</c> defaulting to the rank.</summary>
    public static double Scale(int rank, double? alpha) => (alpha ?? rank) / rank;

    /// <summary>Keras's check in <c>enable_lora</c>: a kernel constraint cannot be combined with LoRA.</summary>
    public static void RequireNoKernelConstraint(Layer layer, int? rank, Constraint? kernelConstraint)
    {
        if (rank is not null && kernelConstraint is not null)
            throw new ArgumentException(
                $"{layer.ClassName}: LoRA is incompatible with kernel constraints. Received: loraRank={rank}, kernelConstraint={kernelConstraint.ClassName}; " +
                "remove the kernel constraint to enable LoRA.", "loraRank");
    }

    /// <summary>Keras's check in <c>enable_lora</c>: LoRA can be enabled only once.</summary>
    public static void RequireNotEnabled(Layer layer, int? rank)
    {
        if (rank is not null)
            throw new InvalidOperationException(
                $"{layer.Describe()}: LoRA is already enabled (loraRank={rank}); it can only be enabled once per layer, as in Keras. " +
                "Use `with { LoraRank = … }` to make a record with another rank.");
    }
}
