namespace Functional.Shapes;

/// <summary>
/// The sliding window of a convolution or a pooling layer: its size, strides, dilation, padding and data format. It owns
/// the rules every such layer shares — which padding modes are allowed, the output shape (total over unknown dimensions,
/// as Keras's <c>compute_output_shape</c>) and the padding plan of one call (TensorFlow's <c>same</c>, extra element
/// after; <c>causal</c>, all before) — so convolutions and pooling compute them in one place.
/// </summary>
/// <param name="Size">The window extent per spatial axis (a kernel size or a pool size).</param>
/// <param name="Strides">The step per spatial axis.</param>
/// <param name="Dilation">The dilation per spatial axis (1 for pooling).</param>
/// <param name="Padding"><c>valid</c>, <c>same</c> or <c>causal</c>.</param>
/// <param name="DataFormat">Where the channel axis is.</param>
public readonly record struct Window(IntTuple Size, IntTuple Strides, IntTuple Dilation, Padding Padding, DataFormat DataFormat)
{
    /// <summary>The number of spatial axes.</summary>
    public int Rank => Size.Count;

    /// <summary>Keras's <c>standardize_padding</c> without <c>allow_causal</c>: only Conv1D takes <c>causal</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="padding"/> is <c>causal</c>.</exception>
    public static Padding RequireValidOrSame(string layer, Padding padding) => padding.Kind != PaddingKind.Causal
        ? padding
        : throw new ArgumentException(
            $"{layer}: expected argument 'padding' to be 'valid' or 'same' ('causal' is only supported by Conv1D). Received: padding='causal'.",
            "padding");

    /// <summary>Keras: "`strides > 1` not supported in conjunction with `dilation_rate > 1`".</summary>
    /// <exception cref="ArgumentException">Both a stride and a dilation above 1.</exception>
    public static void RequireStridesOrDilation(string layer, IntTuple strides, IntTuple dilationRate)
    {
        if (strides.Any(s => s > 1) && dilationRate.Any(d => d > 1))
            throw new ArgumentException(
                $"{layer}: strides > 1 is not supported together with dilationRate > 1. Received: strides={strides} and dilationRate={dilationRate}.",
                "strides");
    }

    /// <summary>The extent of the (dilated) window along spatial axis <paramref name="i"/>: (k − 1)·d + 1.</summary>
    public int Extent(int i) => ConvArithmetic.EffectiveKernel(Size[i], Dilation[i]);

    /// <summary>
    /// The output length along spatial axis <paramref name="i"/> for input length <paramref name="n"/>: <c>null</c> when the
    /// input length is unknown; <c>valid</c> ⌈(n − (k−1)·d)/s⌉, <c>same</c>/<c>causal</c> ⌈n/s⌉; ≤ 0 when a <c>valid</c>
    /// window does not fit.
    /// </summary>
    public int? OutputLength(int i, int? n) =>
        n is { } length ? ConvArithmetic.ConvOutputLength(length, Size[i], Strides[i], Padding, Dilation[i]) : null;

    /// <summary>The first spatial axis (0-based among the spatial axes) whose known length a <c>valid</c> window does not fit, or null.</summary>
    public int? FirstUnfit(Shape input)
    {
        var axes = DataFormat.SpatialAxes(input.Rank);
        for (var i = 0; i < Rank; i++)
            if (OutputLength(i, input[axes[i]]) is <= 0) return i;
        return null;
    }

    /// <summary>
    /// The output shape: each spatial length by <see cref="OutputLength"/> (unknown stays unknown), the channel axis set
    /// to <paramref name="channels"/> (unknown when null). Call <see cref="FirstUnfit"/> first.
    /// </summary>
    public Shape OutputShape(Shape input, int? channels)
    {
        var axes = DataFormat.SpatialAxes(input.Rank);
        var dims = input.ToArray();
        for (var i = 0; i < Rank; i++) dims[axes[i]] = OutputLength(i, input[axes[i]]);
        dims[DataFormat.ChannelAxis(input.Rank)] = channels;
        return new Shape(dims);
    }

    /// <summary>
    /// The padding of one call, <c>(before, after)</c> per spatial axis, for the actual spatial lengths of the call's input:
    /// TensorFlow's <c>same</c> (the extra element after when the total is odd), <c>causal</c> (all before), none for <c>valid</c>.
    /// Computed per call, so one built layer runs on inputs of any size.
    /// </summary>
    public (int Before, int After)[] Pads(ReadOnlySpan<long> spatial)
    {
        var pads = new (int Before, int After)[Rank];
        for (var i = 0; i < Rank; i++)
            pads[i] = Padding.Kind switch
            {
                PaddingKind.Same => ConvArithmetic.SamePadding(checked((int)spatial[i]), Size[i], Strides[i], Dilation[i]),
                PaddingKind.Causal => ConvArithmetic.CausalPadding(Size[i], Dilation[i]),
                _ => (0, 0),
            };
        return pads;
    }

    /// <summary>
    /// The spatial lengths of a call's input tensor in its compute layout (batch first; channels first when
    /// <paramref name="channelsFirst"/>, else channels last).
    /// </summary>
    public static long[] SpatialLengths(long[] tensorShape, bool channelsFirst) =>
        channelsFirst ? tensorShape[2..] : tensorShape[1..^1];

    /// <summary>
    /// The pads as <c>F.pad</c> takes them (last axis first, before then after), or null when every pad is symmetric
    /// (a convolution takes those itself, see <paramref name="symmetric"/>).
    /// </summary>
    public static long[]? Explicit((int Before, int After)[] pads, out long[] symmetric)
    {
        symmetric = new long[pads.Length];
        if (pads.All(p => p.Before == p.After))
        {
            for (var i = 0; i < pads.Length; i++) symmetric[i] = pads[i].Before;
            return null;
        }
        return pads.Reverse().SelectMany(p => new long[] { p.Before, p.After }).ToArray();
    }
}
