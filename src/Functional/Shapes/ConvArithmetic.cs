namespace Functional.Shapes;

/// <summary>
/// The pure output-length and padding arithmetic of convolutions and pooling, as TensorFlow/Keras define it.
/// Every layer calls these functions; nothing here touches libtorch.
/// </summary>
public static class ConvArithmetic
{
    /// <summary>The extent a dilated kernel covers: <c>(k − 1)·d + 1</c>.</summary>
    public static int EffectiveKernel(int kernel, int dilation) => (kernel - 1) * dilation + 1;

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
        var output = CeilDiv(n, stride);
        var total = Math.Max((output - 1) * stride + EffectiveKernel(kernel, dilation) - n, 0);
        var before = total / 2;
        return (before, total - before);
    }

    /// <summary>Causal padding along one axis: all (k−1)·d elements before, none after.</summary>
    public static (int Before, int After) CausalPadding(int kernel, int dilation = 1) => ((kernel - 1) * dilation, 0);

    /// <summary>
    /// Output length of a transposed convolution along one axis, as Keras computes it.
    /// Without output_padding: <c>valid</c> n·s + max(k' − s, 0), <c>same</c> n·s, with k' = (k−1)·d + 1.
    /// With output_padding p: (n − 1)·s + k' − 2·pad + p, where pad = ⌊k'/2⌋ for <c>same</c> and 0 for <c>valid</c>.
    /// </summary>
    public static int ConvTransposeOutputLength(int n, int kernel, int stride, Padding padding, int? outputPadding = null, int dilation = 1)
    {
        var k = EffectiveKernel(kernel, dilation);
        if (outputPadding is null)
            return padding.Kind == PaddingKind.Valid ? n * stride + Math.Max(k - stride, 0) : n * stride;
        var pad = padding.Kind == PaddingKind.Same ? k / 2 : 0;
        return (n - 1) * stride + k - 2 * pad + outputPadding.Value;
    }

    /// <summary>⌈a/b⌉ for positive integers.</summary>
    public static int CeilDiv(int a, int b) => (a + b - 1) / b;
}
