namespace Functional.Shapes;

/// <summary>
/// The pure output-length and padding arithmetic of convolutions and pooling, as TensorFlow/Keras define it.
/// Every layer calls these functions; nothing here touches libtorch.
/// </summary>
public static class ConvArithmetic
{
    /// <summary>The extent a dilated kernel covers: <c>(k − 1)·d + 1</c>.</summary>
    /// <exception cref="OverflowException">The extent exceeds the largest dimension, <see cref="int.MaxValue"/>.</exception>
    public static int EffectiveKernel(int kernel, int dilation) =>
        Dimension(((long)kernel - 1) * dilation + 1, $"the dilated kernel extent (k − 1)·d + 1 with k={kernel}, d={dilation}");

    /// <summary>
    /// Output length of a convolution along one axis.
    /// <c>valid</c>: ⌊(n − (k−1)·d − 1)/s⌋ + 1 = ⌈(n − (k−1)·d)/s⌉; <c>same</c> and <c>causal</c>: ⌈n/s⌉.
    /// Returns a value ≤ 0 when a <c>valid</c> kernel does not fit; callers turn that into a shape error.
    /// </summary>
    public static int ConvOutputLength(int n, int kernel, int stride, Padding padding, int dilation = 1) =>
        padding.Kind switch
        {
            PaddingKind.Valid => n < EffectiveKernel(kernel, dilation) ? n - EffectiveKernel(kernel, dilation) : (n - EffectiveKernel(kernel, dilation)) / stride + 1,
            _ => CeilDiv(n, stride),
        };

    /// <summary>
    /// Output length of pooling along one axis: <c>valid</c> ⌊(n − p)/s⌋ + 1, <c>same</c> ⌈n/s⌉.
    /// Returns a value ≤ 0 when a <c>valid</c> window does not fit.
    /// </summary>
    public static int PoolOutputLength(int n, int pool, int stride, Padding padding) =>
        padding.Kind == PaddingKind.Valid
            ? (n < pool ? n - pool : (n - pool) / stride + 1)
            : CeilDiv(n, stride);

    /// <summary>
    /// TensorFlow's <c>same</c> padding along one axis: total = max((⌈n/s⌉ − 1)·s + (k−1)·d + 1 − n, 0),
    /// split with the smaller half before and the extra element after (bottom/right).
    /// </summary>
    public static (int Before, int After) SamePadding(int n, int kernel, int stride, int dilation = 1)
    {
        long output = CeilDiv(n, stride);
        var total = Math.Max((output - 1) * stride + EffectiveKernel(kernel, dilation) - n, 0);
        var before = total / 2;
        return (Dimension(before, "the 'same' padding"), Dimension(total - before, "the 'same' padding"));
    }

    /// <summary>Causal padding along one axis: all (k−1)·d elements before, none after.</summary>
    public static (int Before, int After) CausalPadding(int kernel, int dilation = 1) => (EffectiveKernel(kernel, dilation) - 1, 0);

    /// <summary>
    /// Output length of a transposed convolution along one axis, as Keras computes it.
    /// Without output_padding: <c>valid</c> n·s + max(k' − s, 0), <c>same</c> n·s, with k' = (k−1)·d + 1.
    /// With output_padding p: (n − 1)·s + k' − 2·pad + p, where pad = ⌊k'/2⌋ for <c>same</c> and 0 for <c>valid</c>.
    /// </summary>
    /// <exception cref="OverflowException">The output length exceeds the largest dimension, <see cref="int.MaxValue"/>.</exception>
    public static int ConvTransposeOutputLength(int n, int kernel, int stride, Padding padding, int? outputPadding = null, int dilation = 1)
    {
        long k = EffectiveKernel(kernel, dilation);
        var what = $"the transposed convolution's output length for input length {n}, stride {stride}";
        if (outputPadding is null)
            return Dimension(padding.Kind == PaddingKind.Valid ? (long)n * stride + Math.Max(k - stride, 0) : (long)n * stride, what);
        var pad = padding.Kind == PaddingKind.Same ? k / 2 : 0;
        return Dimension(((long)n - 1) * stride + k - 2 * pad + outputPadding.Value, what);
    }

    /// <summary>
    /// Keras's padding of a transposed convolution along one axis, in the JAX form Keras defines it by
    /// (<c>_convert_conv_transpose_padding_args_from_keras_to_jax</c>): the padding (before, after) applied to the
    /// stride-dilated input before a stride-1 convolution with the flipped kernel. With k' = (k−1)·d + 1:
    /// <c>valid</c> (k'−1, k'−1+p) with p = output_padding or max(k', s) − k' when not given;
    /// <c>same</c> total t = s + k' − 2 (no output_padding) or k' + k' mod 2 − 2 + p, split
    /// before = min(⌈t/2⌉, k'−1), after = t − before.
    /// </summary>
    public static (int Before, int After) ConvTransposePadding(int kernel, int stride, Padding padding, int? outputPadding = null, int dilation = 1)
    {
        var k = EffectiveKernel(kernel, dilation);
        if (padding.Kind == PaddingKind.Valid)
        {
            var p = outputPadding ?? Math.Max(k, stride) - k;
            return (k - 1, Dimension((long)k - 1 + p, "the transposed convolution's padding"));
        }
        var total = outputPadding is { } op ? (long)k + k % 2 - 2 + op : (long)stride + k - 2;
        var before = Math.Min(total / 2 + total % 2, k - 1);
        return ((int)before, Dimension(total - before, "the transposed convolution's padding"));
    }

    /// <summary>
    /// How much of the full transposed convolution — length (n − 1)·s + k', every input step i adding its kernel
    /// taps at positions i·s + j·d — Keras keeps along one axis: crop <c>Before</c> elements at the start and
    /// <c>After</c> at the end; a negative <c>After</c> means that many zeros are appended instead.
    /// Equals (k' − 1 − before, k' − 1 − after) of <see cref="ConvTransposePadding"/>; <c>Before</c> is never negative.
    /// </summary>
    public static (int Before, int After) ConvTransposeCrop(int kernel, int stride, Padding padding, int? outputPadding = null, int dilation = 1)
    {
        var k = EffectiveKernel(kernel, dilation);
        var (before, after) = ConvTransposePadding(kernel, stride, padding, outputPadding, dilation);
        return (k - 1 - before, k - 1 - after);
    }

    /// <summary>⌈a/b⌉ for positive integers (exact up to <see cref="int.MaxValue"/>: computed in 64 bits).</summary>
    public static int CeilDiv(int a, int b) => (int)(((long)a + b - 1) / b);

    // A length computed in 64 bits, as an int dimension, or an error saying what grew too large.
    private static int Dimension(long value, string what) =>
        value <= int.MaxValue && value >= int.MinValue ? (int)value
            : throw new OverflowException($"{what} is {value:N0}, more than the largest dimension ({int.MaxValue:N0}).");
}
