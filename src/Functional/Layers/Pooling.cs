
using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// The rank-generic window pooling behind MaxPooling1D/2D/3D and AveragePooling1D/2D/3D.
/// </summary>
/// <remarks>
/// <para>Output shape: channels unchanged; each spatial length ⌊(n − p)/s⌋ + 1 for <c>valid</c>, ⌈n/s⌉ for <c>same</c>.</para>
/// <para><see cref="Strides"/> default to <see cref="PoolSize"/>, as in Keras. No parameters.</para>
/// </remarks>
public abstract record Pooling : Layer
{
    /// <summary>Validates and normalises the arguments.</summary>
    protected Pooling(int rank, IntTuple poolSize, IntTuple strides, Padding padding, DataFormat dataFormat)
    {
        Rank = rank;
        PoolSize = poolSize.Count == 0 ? 2 : poolSize;
        Strides = strides.Count == 0 ? PoolSize : strides;
        Padding = padding;
        DataFormat = dataFormat;
    }

    /// <summary>The number of spatial dimensions.</summary>
    public int Rank { get; }

    /// <summary>The window size per spatial dimension; 2 by default.</summary>
    public IntTuple PoolSize { get; init => field = value.Expand(Rank, ClassName, "poolSize").RequireAtLeast(1, ClassName, "poolSize"); }

    /// <summary>The step per spatial dimension; defaults to <see cref="PoolSize"/>.</summary>
    public IntTuple Strides { get; init => field = value.Expand(Rank, ClassName, "strides").RequireAtLeast(1, ClassName, "strides"); }

    /// <summary><c>valid</c> (default) or <c>same</c>.</summary>
    public Padding Padding { get; init => field = Window.RequireValidOrSame(ClassName, value); }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>The pooling window: pool size, strides, no dilation, padding and data format.</summary>
    public Window Window => new(PoolSize, Strides, new IntTuple(Enumerable.Repeat(1, Rank).ToArray()), Padding, DataFormat);

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != Rank + 1)
            throw ShapeError(input, null, $"expected a per-sample input of rank {Rank + 1} (spatial dimensions and channels), got rank {input.Rank}.");
        return ConvolutionRules.WindowOutput(this, input, Window, input[DataFormat.ChannelAxis(input.Rank)], "poolSize");
    }
}

/// <summary>Max pooling over windows of steps (Keras <c>MaxPooling1D</c>).</summary>
/// <remarks>Input shape (steps, channels) (or channels first). Output shape (⌊(steps − p)/s⌋ + 1, channels) for <c>valid</c>, (⌈steps/s⌉, channels) for <c>same</c>. No parameters.</remarks>
public sealed record MaxPooling1D : Pooling
{
    /// <summary>Keras defaults: poolSize 2, strides = poolSize, <c>valid</c>, <c>channels_last</c>.</summary>
    public MaxPooling1D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(1, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Max pooling over 2-D windows (Keras <c>MaxPooling2D</c>).</summary>
/// <remarks>Input shape (rows, cols, channels) (or channels first). Output rows ⌊(n − p)/s⌋ + 1 for <c>valid</c>, ⌈n/s⌉ for <c>same</c>; channels unchanged. No parameters.</remarks>
public sealed record MaxPooling2D : Pooling
{
    /// <summary>Keras defaults: poolSize (2, 2), strides = poolSize, <c>valid</c>, <c>channels_last</c>.</summary>
    public MaxPooling2D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(2, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Max pooling over 3-D windows (Keras <c>MaxPooling3D</c>).</summary>
/// <remarks>Input shape (d1, d2, d3, channels) (or channels first). Each spatial length ⌊(n − p)/s⌋ + 1 for <c>valid</c>, ⌈n/s⌉ for <c>same</c>. No parameters.</remarks>
public sealed record MaxPooling3D : Pooling
{
    /// <summary>Keras defaults: poolSize (2, 2, 2), strides = poolSize, <c>valid</c>, <c>channels_last</c>.</summary>
    public MaxPooling3D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(3, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Average pooling over windows of steps (Keras <c>AveragePooling1D</c>).</summary>
/// <remarks>With <c>same</c> padding each window is averaged over its real (non-padded) elements only, as TensorFlow does.</remarks>
public sealed record AveragePooling1D : Pooling
{
    /// <summary>Keras requires <paramref name="poolSize"/>; strides default to it, padding <c>valid</c>, <c>channels_last</c>.</summary>
    public AveragePooling1D(IntTuple poolSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(1, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Average pooling over 2-D windows (Keras <c>AveragePooling2D</c>).</summary>
/// <remarks>With <c>same</c> padding each window is averaged over its real (non-padded) elements only, as TensorFlow does.</remarks>
public sealed record AveragePooling2D : Pooling
{
    /// <summary>Keras requires <paramref name="poolSize"/>; strides default to it, padding <c>valid</c>, <c>channels_last</c>.</summary>
    public AveragePooling2D(IntTuple poolSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(2, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Average pooling over 3-D windows (Keras <c>AveragePooling3D</c>).</summary>
/// <remarks>With <c>same</c> padding each window is averaged over its real (non-padded) elements only, as TensorFlow does.</remarks>
public sealed record AveragePooling3D : Pooling
{
    /// <summary>Keras requires <paramref name="poolSize"/>; strides default to it, padding <c>valid</c>, <c>channels_last</c>.</summary>
    public AveragePooling3D(IntTuple poolSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(3, poolSize, strides, padding, dataFormat) { }
}

/// <summary>
/// The rank-generic global pooling behind GlobalMaxPooling1D/2D/3D and GlobalAveragePooling1D/2D/3D: one value per
/// channel over all spatial positions.
/// </summary>
/// <remarks>
/// <para>Output shape: <c>(channels,)</c>; with <see cref="Keepdims"/> the spatial axes stay with length 1 —
/// <c>(1, …, 1, channels)</c> for <c>channels_last</c>, <c>(channels, 1, …, 1)</c> for <c>channels_first</c>.</para>
/// <para>No parameters.</para>
/// </remarks>
public abstract record GlobalPooling : Layer
{
    /// <summary>Stores the arguments (Keras defaults: <c>channels_last</c>, keepdims false).</summary>
    protected GlobalPooling(int rank, DataFormat dataFormat, bool keepdims)
    {
        Rank = rank;
        DataFormat = dataFormat;
        Keepdims = keepdims;
    }

    /// <summary>The number of spatial dimensions pooled over.</summary>
    public int Rank { get; }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>Whether the pooled spatial axes are kept with length 1 (Keras's <c>keepdims</c>, default false).</summary>
    public bool Keepdims { get; init; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != Rank + 1)
        {
            var spatial = Rank switch { 1 => "steps", 2 => "rows, cols", _ => "dim1, dim2, dim3" };
            var layout = DataFormat.IsChannelsLast ? $"{spatial}, channels" : $"channels, {spatial}";
            throw ShapeError(input, null, $"expected a per-sample input of rank {Rank + 1} ({layout}), got rank {input.Rank}.");
        }
        var channels = input[DataFormat.ChannelAxis(input.Rank)];
        if (!Keepdims) return new Shape(channels);
        var dims = Enumerable.Repeat((int?)1, input.Rank).ToArray();
        dims[DataFormat.ChannelAxis(input.Rank)] = channels;
        return new Shape(dims);
    }
}

/// <summary>Maximum over all steps per channel (Keras <c>GlobalMaxPooling1D</c>).</summary>
/// <remarks>Input shape (steps, channels) (or channels first). Output shape (channels), or (1, channels) with keepdims. No parameters.</remarks>
public sealed record GlobalMaxPooling1D : GlobalPooling
{
    /// <summary>Keras defaults: <c>channels_last</c>, keepdims false.</summary>
    public GlobalMaxPooling1D(DataFormat dataFormat = default, bool keepdims = false) : base(1, dataFormat, keepdims) { }
}

/// <summary>Maximum over all rows and columns per channel (Keras <c>GlobalMaxPooling2D</c>).</summary>
/// <remarks>Input shape (rows, cols, channels) (or channels first). Output shape (channels), or (1, 1, channels) with keepdims. No parameters.</remarks>
public sealed record GlobalMaxPooling2D : GlobalPooling
{
    /// <summary>Keras defaults: <c>channels_last</c>, keepdims false.</summary>
    public GlobalMaxPooling2D(DataFormat dataFormat = default, bool keepdims = false) : base(2, dataFormat, keepdims) { }
}

/// <summary>Maximum over all three spatial dimensions per channel (Keras <c>GlobalMaxPooling3D</c>).</summary>
/// <remarks>Input shape (d1, d2, d3, channels) (or channels first). Output shape (channels), or (1, 1, 1, channels) with keepdims. No parameters.</remarks>
public sealed record GlobalMaxPooling3D : GlobalPooling
{
    /// <summary>Keras defaults: <c>channels_last</c>, keepdims false.</summary>
    public GlobalMaxPooling3D(DataFormat dataFormat = default, bool keepdims = false) : base(3, dataFormat, keepdims) { }
}

/// <summary>Mean over all steps per channel (Keras <c>GlobalAveragePooling1D</c>).</summary>
/// <remarks>Input shape (steps, channels) (or channels first). Output shape (channels), or (1, channels) with keepdims. No parameters.</remarks>
public sealed record GlobalAveragePooling1D : GlobalPooling
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras defaults: <c>channels_last</c>, keepdims false.</summary>
    public GlobalAveragePooling1D(DataFormat dataFormat = default, bool keepdims = false) : base(1, dataFormat, keepdims) { }
}

/// <summary>Mean over all rows and columns per channel (Keras <c>GlobalAveragePooling2D</c>).</summary>
/// <remarks>Input shape (rows, cols, channels) (or channels first). Output shape (channels), or (1, 1, channels) with keepdims. No parameters.</remarks>
public sealed record GlobalAveragePooling2D : GlobalPooling
{
    /// <summary>Keras defaults: <c>channels_last</c>, keepdims false.</summary>
    public GlobalAveragePooling2D(DataFormat dataFormat = default, bool keepdims = false) : base(2, dataFormat, keepdims) { }
}

/// <summary>Mean over all three spatial dimensions per channel (Keras <c>GlobalAveragePooling3D</c>).</summary>
/// <remarks>Input shape (d1, d2, d3, channels) (or channels first). Output shape (channels), or (1, 1, 1, channels) with keepdims. No parameters.</remarks>
public sealed record GlobalAveragePooling3D : GlobalPooling
{
    /// <summary>Keras defaults: <c>channels_last</c>, keepdims false.</summary>
    public GlobalAveragePooling3D(DataFormat dataFormat = default, bool keepdims = false) : base(3, dataFormat, keepdims) { }
}
