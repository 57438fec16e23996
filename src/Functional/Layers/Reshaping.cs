using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>Rank checks and messages shared by the cropping, zero-padding and upsampling layers.</summary>
internal static class SpatialRules
{
    public static void CheckRank(Layer layer, int rank, DataFormat dataFormat, Shape input)
    {
        if (input.Rank == rank + 1) return;
        var spatial = rank switch { 1 => "steps", 2 => "rows, cols", _ => "dim1, dim2, dim3" };
        var layout = dataFormat.IsChannelsLast ? $"{spatial}, channels" : $"channels, {spatial}";
        throw new ShapeException(layer, [input], null, $"expected a per-sample input of rank {rank + 1} ({layout}), got rank {input.Rank}.");
    }

    /// <summary>Cropping1D and UpSampling1D have no <c>data_format</c> in Keras: they are always <c>channels_last</c>.</summary>
    public static DataFormat RankOneChannelsLast(int rank, DataFormat value, string layer) =>
        rank != 1 || value.IsChannelsLast
            ? value
            : throw new ArgumentException(
                $"{layer}: expected argument 'dataFormat' to be 'channels_last' ({layer} has no data_format in Keras; its input is " +
                $"(steps, features)). Received: dataFormat='{value}'.", "dataFormat");

    /// <summary>
    /// A 1-D amount, by Keras's <c>standardize_tuple(value, 2)</c>: an integer n means (n, n); otherwise exactly 2 values
    /// (before, after) — a 1-tuple such as <c>(1,)</c> is rejected, as in Keras. Both must be ≥ 0.
    /// </summary>
    public static IntTuple BeforeAfter(IntTuple value, string layer, string argument)
    {
        if (!(value.Count == 2 || (value.Count == 1 && value.IsInteger)))
            throw new ArgumentException(
                $"{layer}: expected argument '{argument}' to be an integer or a tuple of 2 integers (before, after). " +
                $"Received: {argument}={(value.Count == 1 ? $"({value[0]},)" : value.ToString())}.", argument);
        var pair = value.Count == 1 ? new IntTuple(value[0], value[0]) : value;
        if (pair[0] < 0 || pair[1] < 0)
            throw new ArgumentException($"{layer}: `{argument}` cannot be negative. Received: {argument}={value}.", argument);
        return pair;
    }
}

/// <summary>
/// Removes elements from the start and end of each spatial axis: the base of Cropping1D/2D/3D. No parameters.
/// </summary>
/// <remarks>Output length per axis: n − start − end, which must stay positive (checked when the model is declared).</remarks>
public abstract record SpatialCropping : Layer
{
    /// <summary>Sets the rank and layout.</summary>
    protected SpatialCropping(int rank, DataFormat dataFormat)
    {
        Rank = rank;
        DataFormat = dataFormat;
    }

    /// <summary>The number of spatial dimensions.</summary>
    public int Rank { get; }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>. Cropping1D is always <c>channels_last</c>, as in Keras.</summary>
    public DataFormat DataFormat { get; init => field = SpatialRules.RankOneChannelsLast(Rank, value, ClassName); }

    /// <summary>The elements removed at the start and at the end of spatial axis <paramref name="axis"/>.</summary>
    public abstract (int Start, int End) CroppingAt(int axis);

    /// <summary>Keras's message for cropping that leaves nothing of an axis.</summary>
    protected virtual string TooMuch(Shape input) =>
        "Values in `cropping` argument should be smaller than the corresponding spatial dimension of the input. " +
        $"Received: input_shape={input}, cropping={CroppingDescription}.";

    /// <summary>The cropping as Keras prints it.</summary>
    protected abstract string CroppingDescription { get; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        SpatialRules.CheckRank(this, Rank, DataFormat, input);
        var axes = DataFormat.SpatialAxes(input.Rank);
        var dims = input.ToArray();
        for (var i = 0; i < Rank; i++)
        {
            var (start, end) = CroppingAt(i);
            if (input[axes[i]] is not { } n) continue;   // unknown stays unknown
            var left = n - start - end;
            if (left <= 0) throw ShapeError(input, axes[i], TooMuch(input));
            dims[axes[i]] = left;
        }
        return new Shape(dims);
    }
}

/// <summary>Crops along the time axis of <c>(steps, features)</c> (Keras <c>Cropping1D</c>).</summary>
/// <remarks>Input shape (steps, features) → output shape (steps − start − end, features). No parameters.</remarks>
public sealed record Cropping1D : SpatialCropping
{
    /// <summary>Keras's default cropping is (1, 1); an integer n means (n, n).</summary>
    public Cropping1D(IntTuple cropping = default) : base(1, DataFormat.ChannelsLast) =>
        Cropping = cropping.Count == 0 ? new IntTuple(1, 1) : cropping;

    /// <summary>(start, end): how many steps are removed at the beginning and at the end.</summary>
    public IntTuple Cropping { get; init => field = SpatialRules.BeforeAfter(value, ClassName, "cropping"); }

    /// <inheritdoc />
    public override (int Start, int End) CroppingAt(int axis) => (Cropping[0], Cropping[1]);

    /// <inheritdoc />
    protected override string CroppingDescription => Cropping.ToString();

    /// <inheritdoc />
    protected override string TooMuch(Shape input) =>
        $"`cropping` parameter of `Cropping1D` layer must be smaller than the input length. Received: input_shape={input}, cropping={Cropping}.";
}

/// <summary>Crops rows and columns of <c>(rows, cols, channels)</c> (Keras <c>Cropping2D</c>).</summary>
/// <remarks>Keras's example: <c>((2, 2), (4, 4))</c> on (28, 28, 3) gives (24, 20, 3).</remarks>
public sealed record Cropping2D : SpatialCropping
{
    /// <summary>
    /// Keras's default cropping is <c>((0, 0), (0, 0))</c>. An integer crops every side by it, <c>(h, w)</c> crops h rows at the top
    /// and bottom and w columns left and right, <c>((top, bottom), (left, right))</c> gives every side.
    /// </summary>
    public Cropping2D(SidePairs cropping = default, DataFormat dataFormat = default) : base(2, dataFormat) =>
        Cropping = cropping.IsGiven ? cropping : SidePairs.FromPairs((0, 0), (0, 0));

    /// <summary>((top, bottom), (left, right)), normalised.</summary>
    public SidePairs Cropping { get; init => field = value.RequireNonNegative(ClassName, "cropping").Expand(2, ClassName, "cropping"); }

    /// <inheritdoc />
    public override (int Start, int End) CroppingAt(int axis) => Cropping[axis];

    /// <inheritdoc />
    protected override string CroppingDescription => Cropping.ToString();
}

/// <summary>Crops the three spatial axes of <c>(dim1, dim2, dim3, channels)</c> (Keras <c>Cropping3D</c>).</summary>
/// <remarks>Keras's example: <c>(2, 4, 2)</c> on (28, 28, 10, 3) gives (24, 20, 6, 3).</remarks>
public sealed record Cropping3D : SpatialCropping
{
    /// <summary>Keras's default cropping is <c>((1, 1), (1, 1), (1, 1))</c>; an integer or a symmetric triple also works.</summary>
    public Cropping3D(SidePairs cropping = default, DataFormat dataFormat = default) : base(3, dataFormat) =>
        Cropping = cropping.IsGiven ? cropping : SidePairs.FromPairs((1, 1), (1, 1), (1, 1));

    /// <summary>((start1, end1), (start2, end2), (start3, end3)), normalised.</summary>
    public SidePairs Cropping { get; init => field = value.RequireNonNegative(ClassName, "cropping").Expand(3, ClassName, "cropping"); }

    /// <inheritdoc />
    public override (int Start, int End) CroppingAt(int axis) => Cropping[axis];

    /// <inheritdoc />
    protected override string CroppingDescription => Cropping.ToString();
}

/// <summary>Adds zeros at the start and end of each spatial axis: the base of ZeroPadding1D/2D/3D. No parameters.</summary>
/// <remarks>Output length per axis: n + before + after.</remarks>
public abstract record SpatialZeroPadding : Layer
{
    /// <summary>Sets the rank and layout.</summary>
    protected SpatialZeroPadding(int rank, DataFormat dataFormat)
    {
        Rank = rank;
        DataFormat = dataFormat;
    }

    /// <summary>The number of spatial dimensions.</summary>
    public int Rank { get; }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>The zeros added before and after spatial axis <paramref name="axis"/>.</summary>
    public abstract (int Before, int After) PaddingAt(int axis);

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        SpatialRules.CheckRank(this, Rank, DataFormat, input);
        var axes = DataFormat.SpatialAxes(input.Rank);
        var dims = input.ToArray();
        for (var i = 0; i < Rank; i++)
        {
            var (before, after) = PaddingAt(i);
            if (input[axes[i]] is not { } n) continue;   // unknown stays unknown
            var padded = (long)n + before + after;
            if (padded > int.MaxValue) throw ShapeError(input, axes[i], $"the padded length {padded} exceeds {int.MaxValue}.");
            dims[axes[i]] = (int)padded;
        }
        return new Shape(dims);
    }
}

/// <summary>Pads the time axis of <c>(steps, features)</c> with zeros (Keras <c>ZeroPadding1D</c>).</summary>
/// <remarks>Input shape (steps, features) → output shape (steps + before + after, features). No parameters.</remarks>
public sealed record ZeroPadding1D : SpatialZeroPadding
{
    /// <summary>Keras's default padding is 1 on both sides; <c>(before, after)</c> pads each side separately.</summary>
    public ZeroPadding1D(IntTuple padding = default, DataFormat dataFormat = default) : base(1, dataFormat) =>
        Padding = padding.Count == 0 ? new IntTuple(1, 1) : padding;

    /// <summary>(before, after), normalised.</summary>
    public IntTuple Padding { get; init => field = SpatialRules.BeforeAfter(value, ClassName, "padding"); }

    /// <inheritdoc />
    public override (int Before, int After) PaddingAt(int axis) => (Padding[0], Padding[1]);
}

/// <summary>Pads rows and columns of <c>(rows, cols, channels)</c> with zeros (Keras <c>ZeroPadding2D</c>).</summary>
/// <remarks>Input shape (rows, cols, channels) (or channels first) → output (rows + top + bottom, cols + left + right, channels). No parameters.</remarks>
public sealed record ZeroPadding2D : SpatialZeroPadding
{
    /// <summary>
    /// Keras's default padding is <c>(1, 1)</c>: one row at the top and bottom, one column left and right.
    /// An integer pads every side; <c>((top, bottom), (left, right))</c> gives every side.
    /// </summary>
    public ZeroPadding2D(SidePairs padding = default, DataFormat dataFormat = default) : base(2, dataFormat) =>
        Padding = padding.IsGiven ? padding : SidePairs.FromPairs((1, 1), (1, 1));

    /// <summary>((top, bottom), (left, right)), normalised.</summary>
    public SidePairs Padding { get; init => field = value.RequireNonNegative(ClassName, "padding").Expand(2, ClassName, "padding"); }

    /// <inheritdoc />
    public override (int Before, int After) PaddingAt(int axis) => Padding[axis];
}

/// <summary>Pads the three spatial axes of <c>(dim1, dim2, dim3, channels)</c> with zeros (Keras <c>ZeroPadding3D</c>).</summary>
/// <remarks>Keras's example: padding 2 on (1, 2, 2, 3) gives (5, 6, 6, 3).</remarks>
public sealed record ZeroPadding3D : SpatialZeroPadding
{
    /// <summary>Keras's default padding is <c>((1, 1), (1, 1), (1, 1))</c>; an integer or a symmetric triple also works.</summary>
    public ZeroPadding3D(SidePairs padding = default, DataFormat dataFormat = default) : base(3, dataFormat) =>
        Padding = padding.IsGiven ? padding : SidePairs.FromPairs((1, 1), (1, 1), (1, 1));

    /// <summary>((before1, after1), (before2, after2), (before3, after3)), normalised.</summary>
    public SidePairs Padding { get; init => field = value.RequireNonNegative(ClassName, "padding").Expand(3, ClassName, "padding"); }

    /// <inheritdoc />
    public override (int Before, int After) PaddingAt(int axis) => Padding[axis];
}

/// <summary>Repeats (or interpolates) along each spatial axis by an integer factor: the base of UpSampling1D/2D/3D. No parameters.</summary>
/// <remarks>Output length per axis: n·size.</remarks>
public abstract record SpatialUpSampling : Layer
{
    /// <summary>Sets the rank and layout.</summary>
    protected SpatialUpSampling(int rank, DataFormat dataFormat)
    {
        Rank = rank;
        DataFormat = dataFormat;
    }

    /// <summary>The number of spatial dimensions.</summary>
    public int Rank { get; }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>. UpSampling1D is always <c>channels_last</c>, as in Keras.</summary>
    public DataFormat DataFormat { get; init => field = SpatialRules.RankOneChannelsLast(Rank, value, ClassName); }

    /// <summary>The factor along spatial axis <paramref name="axis"/>.</summary>
    public abstract int SizeAt(int axis);

    /// <summary><c>nearest</c> repeats elements; <c>bilinear</c> interpolates (UpSampling2D only).</summary>
    public virtual string Method => "nearest";

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        SpatialRules.CheckRank(this, Rank, DataFormat, input);
        var axes = DataFormat.SpatialAxes(input.Rank);
        var dims = input.ToArray();
        for (var i = 0; i < Rank; i++)
        {
            if (input[axes[i]] is not { } n) continue;   // unknown stays unknown
            var scaled = (long)n * SizeAt(i);
            if (scaled > int.MaxValue) throw ShapeError(input, axes[i], $"the upsampled length {scaled} exceeds {int.MaxValue}.");
            dims[axes[i]] = (int)scaled;
        }
        return new Shape(dims);
    }
}

/// <summary>Repeats each step of <c>(steps, features)</c> <see cref="Size"/> times (Keras <c>UpSampling1D</c>).</summary>
/// <remarks>Input shape (steps, features) → output shape (steps · size, features). No parameters.</remarks>
public sealed record UpSampling1D : SpatialUpSampling
{
    /// <summary>Keras's default factor is 2.</summary>
    public UpSampling1D(int size = 2) : base(1, DataFormat.ChannelsLast) => Size = size;

    /// <summary>The upsampling factor, a positive integer.</summary>
    public int Size
    {
        get;
        init => field = value > 0
            ? value
            : throw new ArgumentException($"{ClassName}: Argument `size` should be a positive integer. Received: size={value}.", "size");
    }

    /// <inheritdoc />
    public override int SizeAt(int axis) => Size;
}

/// <summary>Upsamples rows and columns of <c>(rows, cols, channels)</c> (Keras <c>UpSampling2D</c>).</summary>
/// <remarks>
/// <c>nearest</c> (default) repeats rows and columns. <c>bilinear</c> is TensorFlow's <c>resize</c>: half-pixel centres,
/// source coordinate (o + ½)/size − ½ clamped to the edges, no antialiasing (irrelevant when enlarging).
/// </remarks>
public sealed record UpSampling2D : SpatialUpSampling
{
    private static readonly string[] Supported = ["nearest", "bilinear"];

    /// <summary>Keras's defaults: size (2, 2), <c>channels_last</c>, <c>nearest</c>.</summary>
    public UpSampling2D(IntTuple size = default, DataFormat dataFormat = default, string interpolation = "nearest") : base(2, dataFormat)
    {
        Size = size.Count == 0 ? 2 : size;
        Interpolation = interpolation;
    }

    /// <summary>The factors for rows and columns.</summary>
    public IntTuple Size { get; init => field = value.Expand(2, ClassName, "size").RequireAtLeast(1, ClassName, "size"); }

    /// <summary><c>nearest</c> or <c>bilinear</c> (case-insensitive; stored lower-case as Keras does).</summary>
    public string Interpolation
    {
        get;
        init
        {
            var v = value?.Trim().ToLowerInvariant();
            field = v is not null && Supported.Contains(v)
                ? v
                : throw new ArgumentException(
                    $"{ClassName}: expected argument 'interpolation' to be one of 'nearest' or 'bilinear' (Keras's 'bicubic', 'lanczos3', " +
                    $"'lanczos5' and 'area' are not implemented here). Received: interpolation={FormatValue(value)}.", "interpolation");
        }
    }

    /// <inheritdoc />
    public override string Method => Interpolation;

    /// <inheritdoc />
    public override int SizeAt(int axis) => Size[axis];
}

/// <summary>Repeats along the three spatial axes of <c>(dim1, dim2, dim3, channels)</c> (Keras <c>UpSampling3D</c>).</summary>
/// <remarks>Keras's example: size (2, 2, 2) on (1, 2, 1, 3) gives (2, 4, 2, 3).</remarks>
public sealed record UpSampling3D : SpatialUpSampling
{
    /// <summary>Keras's defaults: size (2, 2, 2), <c>channels_last</c>.</summary>
    public UpSampling3D(IntTuple size = default, DataFormat dataFormat = default) : base(3, dataFormat) =>
        Size = size.Count == 0 ? 2 : size;

    /// <summary>The factors for the three spatial axes.</summary>
    public IntTuple Size { get; init => field = value.Expand(3, ClassName, "size").RequireAtLeast(1, ClassName, "size"); }

    /// <inheritdoc />
    public override int SizeAt(int axis) => Size[axis];
}
