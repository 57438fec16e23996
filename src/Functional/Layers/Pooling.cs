using Functional.Shapes;

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
        Validate();
    }

    /// <summary>The number of spatial dimensions.</summary>
    public int Rank { get; }

    /// <summary>The window size per spatial dimension; 2 by default.</summary>
    public IntTuple PoolSize { get; init => field = value.Expand(Rank, ClassName, "poolSize").RequireAtLeast(1, ClassName, "poolSize"); }

    /// <summary>The step per spatial dimension; defaults to <see cref="PoolSize"/>.</summary>
    public IntTuple Strides { get; init => field = value.Expand(Rank, ClassName, "strides").RequireAtLeast(1, ClassName, "strides"); }

    /// <summary><c>valid</c> (default) or <c>same</c>.</summary>
    public Padding Padding { get; init; }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    private void Validate()
    {
        if (Padding.Kind == PaddingKind.Causal)
            throw new ArgumentException($"{ClassName}: expected argument 'padding' to be 'valid' or 'same'. Received: padding='causal'.", "padding");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        Validate();
        if (input.Rank != Rank + 1)
            throw ShapeError(input, null, $"expected a per-sample input of rank {Rank + 1} (spatial dimensions and channels), got rank {input.Rank}.");
        var axes = DataFormat.SpatialAxes(input.Rank);
        var dims = input.ToArray();
        for (var i = 0; i < Rank; i++)
        {
            var n = input[axes[i]];
            var outLen = ConvArithmetic.PoolOutputLength(n, PoolSize[i], Strides[i], Padding);
            if (outLen <= 0)
                throw ShapeError(input, axes[i], $"spatial dimension {i} has length {n}, smaller than poolSize {PoolSize} with padding 'valid'.");
            dims[axes[i]] = outLen;
        }
        return new Shape(dims);
    }
}

/// <summary>Max pooling over windows (Keras <c>MaxPooling1D</c>).</summary>
public sealed record MaxPooling1D : Pooling
{
    /// <summary>Keras defaults: poolSize 2, strides = poolSize, <c>valid</c>, <c>channels_last</c>.</summary>
    public MaxPooling1D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(1, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Max pooling over 2-D windows (Keras <c>MaxPooling2D</c>).</summary>
public sealed record MaxPooling2D : Pooling
{
    /// <summary>Keras defaults: poolSize (2, 2), strides = poolSize, <c>valid</c>, <c>channels_last</c>.</summary>
    public MaxPooling2D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(2, poolSize, strides, padding, dataFormat) { }
}

/// <summary>Max pooling over 3-D windows (Keras <c>MaxPooling3D</c>).</summary>
public sealed record MaxPooling3D : Pooling
{
    /// <summary>Keras defaults: poolSize (2, 2, 2), strides = poolSize, <c>valid</c>, <c>channels_last</c>.</summary>
    public MaxPooling3D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default)
        : base(3, poolSize, strides, padding, dataFormat) { }
}
