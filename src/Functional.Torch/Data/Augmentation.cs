using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Building;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Data;

/// <summary>Keras's <c>keras.utils.to_categorical</c>.</summary>
public static class Categorical
{
    /// <summary>
    /// One-hot float32 rows from integer class labels: shape <c>(…, numClasses)</c>; a trailing axis of 1 is dropped first,
    /// as Keras does. <paramref name="numClasses"/> defaults to the largest label + 1.
    /// </summary>
    /// <exception cref="ArgumentException">Negative labels, labels ≥ numClasses, or non-integer values.</exception>
    public static Tensor ToCategorical(Tensor y, int? numClasses = null)
    {
        ArgumentNullException.ThrowIfNull(y);
        using var scope = NewDisposeScope();
        var labels = y;
        if (labels.dim() > 1 && labels.shape[^1] == 1) labels = labels.squeeze(-1);
        if (labels.is_floating_point())
        {
            if (!labels.eq(labels.round()).all().item<bool>())
                throw new ArgumentException("to_categorical: expected integer class labels; received non-integer values.", nameof(y));
        }
        var ints = labels.to_type(ScalarType.Int64);
        var max = ints.numel() == 0 ? -1 : ints.max().item<long>();
        var min = ints.numel() == 0 ? 0 : ints.min().item<long>();
        if (min < 0) throw new ArgumentException($"to_categorical: class labels must be non-negative. Received a label {min}.", nameof(y));
        var classes = numClasses ?? (int)(max + 1);
        if (classes <= 0) throw new ArgumentException($"to_categorical: expected numClasses > 0. Received: numClasses={classes}.", nameof(numClasses));
        if (max >= classes)
            throw new ArgumentException($"to_categorical: a label {max} does not fit numClasses={classes} (labels must be < numClasses).", nameof(numClasses));
        return nn.functional.one_hot(ints, classes).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}

/// <summary>How points outside an image are filled by <see cref="ImageDataGenerator"/> (Keras <c>fill_mode</c>).</summary>
public enum FillMode
{
    /// <summary>Repeat the nearest edge pixel (Keras's default, <c>nearest</c>).</summary>
    Nearest,
    /// <summary>A constant, <see cref="ImageDataGenerator.Cval"/> (<c>constant</c>).</summary>
    Constant,
    /// <summary>Mirror at the edge (<c>reflect</c>).</summary>
    Reflect,
}

/// <summary>
/// Keras's <c>ImageDataGenerator</c>: seeded random augmentation of channels-last image batches —
/// rotation (degrees), width/height shift (fraction of the size when &lt; 1, else pixels), shear (degrees), zoom
/// (<c>[1 − z, 1 + z]</c> or a range), horizontal/vertical flips — then <c>rescale</c>. <see cref="Flow"/> serves augmented
/// batches to <c>fit</c>.
/// </summary>
/// <remarks>
/// The transform of each image is Keras's: the matrix rotation · shift · shear · zoom applied about the image centre, an
/// output pixel <c>(r, c)</c> sampling the input at <c>M·(r, c) + offset</c> with bilinear interpolation (Keras's default
/// order 1), then flips, then <c>rescale</c>. The random parameters come from a seeded <see cref="System.Random"/>, so the same
/// seed gives the same augmentation (not the same numbers as NumPy would).
/// </remarks>
public sealed record ImageDataGenerator
{
    /// <summary>Creates the generator with Keras's argument names and defaults (everything off).</summary>
    public ImageDataGenerator(double rotationRange = 0, double widthShiftRange = 0, double heightShiftRange = 0,
        double shearRange = 0, double zoomRange = 0, bool horizontalFlip = false, bool verticalFlip = false,
        double? rescale = null, FillMode fillMode = FillMode.Nearest, double cval = 0, (double Low, double High)? zoomRangeBounds = null)
    {
        RotationRange = NonNegative(rotationRange, nameof(rotationRange));
        WidthShiftRange = NonNegative(widthShiftRange, nameof(widthShiftRange));
        HeightShiftRange = NonNegative(heightShiftRange, nameof(heightShiftRange));
        ShearRange = NonNegative(shearRange, nameof(shearRange));
        if (zoomRangeBounds is { } b)
        {
            if (!(b.Low > 0 && b.High >= b.Low))
                throw new ArgumentException($"ImageDataGenerator: `zoom_range` should be a float or a tuple or list of two floats. Received: ({b.Low}, {b.High}); both must be positive, low ≤ high.", nameof(zoomRangeBounds));
            ZoomRange = b;
        }
        else
        {
            var z = NonNegative(zoomRange, nameof(zoomRange));
            ZoomRange = (1 - z, 1 + z);
        }
        HorizontalFlip = horizontalFlip;
        VerticalFlip = verticalFlip;
        Rescale = rescale;
        FillMode = fillMode;
        Cval = cval;
    }

    /// <summary>Maximum rotation in degrees (uniform in ±range).</summary>
    public double RotationRange { get; }
    /// <summary>Horizontal shift: a fraction of the width when &lt; 1, else pixels (uniform in ±range).</summary>
    public double WidthShiftRange { get; }
    /// <summary>Vertical shift: a fraction of the height when &lt; 1, else pixels.</summary>
    public double HeightShiftRange { get; }
    /// <summary>Shear angle in degrees (uniform in ±range).</summary>
    public double ShearRange { get; }
    /// <summary>Zoom factors drawn uniformly from this range (per axis).</summary>
    public (double Low, double High) ZoomRange { get; }
    /// <summary>Randomly mirror left-right (probability ½).</summary>
    public bool HorizontalFlip { get; }
    /// <summary>Randomly mirror top-bottom (probability ½).</summary>
    public bool VerticalFlip { get; }
    /// <summary>Multiplies every value after the transform (e.g. 1/255).</summary>
    public double? Rescale { get; }
    /// <summary>How outside points are filled.</summary>
    public FillMode FillMode { get; }
    /// <summary>The constant for <see cref="FillMode.Constant"/>.</summary>
    public double Cval { get; }

    private static double NonNegative(double v, string arg) => double.IsFinite(v) && v >= 0 ? v
        : throw new ArgumentException($"ImageDataGenerator: expected argument '{arg}' to be a non-negative number. Received: {arg}={v.ToString(CultureInfo.InvariantCulture)}.", arg);

    /// <summary>One image's random transform parameters (Keras's <c>get_random_transform</c>).</summary>
    /// <param name="Theta">Rotation, degrees.</param>
    /// <param name="Tx">Shift along rows (height), pixels.</param>
    /// <param name="Ty">Shift along columns (width), pixels.</param>
    /// <param name="Shear">Shear, degrees.</param>
    /// <param name="Zx">Zoom along rows.</param>
    /// <param name="Zy">Zoom along columns.</param>
    /// <param name="FlipHorizontal">Mirror left-right.</param>
    /// <param name="FlipVertical">Mirror top-bottom.</param>
    public sealed record Transform(double Theta, double Tx, double Ty, double Shear, double Zx, double Zy, bool FlipHorizontal, bool FlipVertical);

    /// <summary>Draws the parameters for an image of <paramref name="height"/>×<paramref name="width"/> from <paramref name="random"/>.</summary>
    public Transform RandomTransform(int height, int width, Random random)
    {
        double Uniform(double lo, double hi) => lo + (hi - lo) * random.NextDouble();
        var theta = RotationRange > 0 ? Uniform(-RotationRange, RotationRange) : 0;
        var tx = HeightShiftRange > 0 ? Uniform(-HeightShiftRange, HeightShiftRange) * (HeightShiftRange < 1 ? height : 1) : 0;
        var ty = WidthShiftRange > 0 ? Uniform(-WidthShiftRange, WidthShiftRange) * (WidthShiftRange < 1 ? width : 1) : 0;
        var shear = ShearRange > 0 ? Uniform(-ShearRange, ShearRange) : 0;
        double zx = 1, zy = 1;
        if (ZoomRange != (1.0, 1.0))
        {
            zx = Uniform(ZoomRange.Low, ZoomRange.High);
            zy = Uniform(ZoomRange.Low, ZoomRange.High);
        }
        var fh = HorizontalFlip && random.NextDouble() < 0.5;
        var fv = VerticalFlip && random.NextDouble() < 0.5;
        return new Transform(theta, tx, ty, shear, zx, zy, fh, fv);
    }

    /// <summary>
    /// Keras's affine matrix for a transform, about the image centre: output pixel (r, c) reads input
    /// <c>(m00·r + m01·c + m02, m10·r + m11·c + m12)</c>. Returns the 2×3 matrix row-major.
    /// </summary>
    public static double[] AffineMatrix(Transform t, int height, int width)
    {
        var m = Identity();
        if (t.Theta != 0)
        {
            var a = t.Theta * Math.PI / 180;
            m = Mul(m, [Math.Cos(a), -Math.Sin(a), 0, Math.Sin(a), Math.Cos(a), 0, 0, 0, 1]);
        }
        if (t.Tx != 0 || t.Ty != 0) m = Mul(m, [1, 0, t.Tx, 0, 1, t.Ty, 0, 0, 1]);
        if (t.Shear != 0)
        {
            var s = t.Shear * Math.PI / 180;
            m = Mul(m, [1, -Math.Sin(s), 0, 0, Math.Cos(s), 0, 0, 0, 1]);
        }
        if (t.Zx != 1 || t.Zy != 1) m = Mul(m, [t.Zx, 0, 0, 0, t.Zy, 0, 0, 0, 1]);
        // transform_matrix_offset_center: offset · m · reset, with the centre at (h/2 − 0.5, w/2 − 0.5).
        double ox = height / 2.0 - 0.5, oy = width / 2.0 - 0.5;
        m = Mul(Mul([1, 0, ox, 0, 1, oy, 0, 0, 1], m), [1, 0, -ox, 0, 1, -oy, 0, 0, 1]);
        return [m[0], m[1], m[2], m[3], m[4], m[5]];
    }

    private static double[] Identity() => [1, 0, 0, 0, 1, 0, 0, 0, 1];

    private static double[] Mul(double[] a, double[] b)
    {
        var r = new double[9];
        for (var i = 0; i < 3; i++)
            for (var j = 0; j < 3; j++)
                r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
        return r;
    }

    /// <summary>
    /// Applies one transform per image to a channels-last batch <c>(N, H, W, C)</c> (float), then flips and rescales.
    /// Returns a new tensor on the batch's device.
    /// </summary>
    public Tensor Apply(Tensor images, IReadOnlyList<Transform> transforms)
    {
        if (images.dim() != 4)
            throw new ArgumentException($"ImageDataGenerator: expected a channels-last batch of rank 4 (N, H, W, C). Received shape ({string.Join(", ", images.shape)}).", nameof(images));
        var n = images.shape[0];
        if (transforms.Count != n) throw new ArgumentException($"Expected {n} transforms, one per image; received {transforms.Count}.", nameof(transforms));
        int h = (int)images.shape[1], w = (int)images.shape[2];
        using var scope = NewDisposeScope();
        var x = images.is_floating_point() ? images : images.to_type(ScalarType.Float32);
        var warp = transforms.Any(t => t.Theta != 0 || t.Tx != 0 || t.Ty != 0 || t.Shear != 0 || t.Zx != 1 || t.Zy != 1);
        var result = x;
        if (warp)
        {
            // Sampling grid in pixel coordinates, then normalised for grid_sample (align_corners: −1 and 1 are pixel centres).
            var matrices = transforms.SelectMany(t => AffineMatrix(t, h, w)).Select(v => (float)v).ToArray();
            var m = torch.tensor(matrices, [n, 2, 3], device: x.device);
            var rows = torch.arange(h, dtype: ScalarType.Float32, device: x.device);
            var cols = torch.arange(w, dtype: ScalarType.Float32, device: x.device);
            var mesh = torch.meshgrid([rows, cols], indexing: "ij");
            var coords = torch.stack([mesh[0], mesh[1], torch.ones_like(mesh[0])], -1).reshape(1, h * w, 3);    // (1, HW, 3)
            var src = torch.matmul(coords, m.transpose(1, 2));                                                   // (N, HW, 2): (row, col)
            var gy = src.select(-1, 0) * (h > 1 ? 2.0 / (h - 1) : 0) - (h > 1 ? 1.0 : 0);
            var gx = src.select(-1, 1) * (w > 1 ? 2.0 / (w - 1) : 0) - (w > 1 ? 1.0 : 0);
            var grid = torch.stack([gx, gy], -1).reshape(n, h, w, 2);
            var nchw = x.permute(0, 3, 1, 2);
            var shifted = FillMode == FillMode.Constant && Cval != 0 ? nchw - Cval : nchw;
            var sampled = nn.functional.grid_sample(shifted, grid, mode: GridSampleMode.Bilinear,
                padding_mode: FillMode switch
                {
                    FillMode.Nearest => GridSamplePaddingMode.Border,
                    FillMode.Reflect => GridSamplePaddingMode.Reflection,
                    _ => GridSamplePaddingMode.Zeros,
                }, align_corners: true);
            if (FillMode == FillMode.Constant && Cval != 0) sampled = sampled + Cval;
            result = sampled.permute(0, 2, 3, 1);
        }
        if (transforms.Any(t => t.FlipHorizontal || t.FlipVertical))
        {
            var fh = torch.tensor(transforms.Select(t => t.FlipHorizontal).ToArray(), device: x.device).reshape(n, 1, 1, 1);
            var fv = torch.tensor(transforms.Select(t => t.FlipVertical).ToArray(), device: x.device).reshape(n, 1, 1, 1);
            result = torch.where(fh, result.flip(2), result);
            result = torch.where(fv, result.flip(1), result);
        }
        if (Rescale is { } r) result = result * r;
        return result.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Draws transforms for a batch and applies them (Keras's <c>random_transform</c> + <c>standardize</c> per image).</summary>
    public Tensor Augment(Tensor images, Random random)
    {
        var transforms = Enumerable.Range(0, (int)images.shape[0])
            .Select(_ => RandomTransform((int)images.shape[1], (int)images.shape[2], random)).ToList();
        return Apply(images, transforms);
    }

    /// <summary>
    /// Keras's <c>flow(x, y, batch_size, shuffle, seed)</c>: augmented batches of <paramref name="x"/> (channels-last images)
    /// with their targets, for <c>fit</c>. Epoch <c>e</c> shuffles and augments with seed <c>seed + e</c>, so runs repeat exactly.
    /// </summary>
    public ImageBatchSource Flow(Tensor x, Tensor y, int batchSize = 32, bool shuffle = true, int seed = 0) =>
        new(this, x, y, batchSize, shuffle, seed);
}

/// <summary>Augmented batches from an <see cref="ImageDataGenerator"/> (Keras's <c>NumpyArrayIterator</c>).</summary>
public sealed class ImageBatchSource : IBatchSource
{
    private readonly ImageDataGenerator generator;

    internal ImageBatchSource(ImageDataGenerator generator, Tensor x, Tensor y, int batchSize, bool shuffle, int seed)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.dim() != 4)
            throw new ArgumentException($"ImageDataGenerator.Flow: expected images of rank 4 (N, H, W, C). Received shape ({string.Join(", ", x.shape)}).", nameof(x));
        if (y.shape[0] != x.shape[0])
            throw new ArgumentException($"ImageDataGenerator.Flow: x and y must have the same length. Received: x.shape[0]={x.shape[0]}, y.shape[0]={y.shape[0]}.", nameof(y));
        if (batchSize <= 0) throw new ArgumentException($"Expected argument 'batchSize' to be a positive integer. Received: batchSize={batchSize}.", nameof(batchSize));
        this.generator = generator;
        X = x; Y = y; BatchSize = batchSize; Shuffle = shuffle; Seed = seed;
    }

    /// <summary>The images.</summary>
    public Tensor X { get; }
    /// <summary>The targets.</summary>
    public Tensor Y { get; }
    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Whether the order changes each epoch.</summary>
    public bool Shuffle { get; }
    /// <summary>The base seed.</summary>
    public int Seed { get; }

    /// <inheritdoc />
    public int StepsPerEpoch => (int)((X.shape[0] + BatchSize - 1) / BatchSize);

    /// <inheritdoc />
    public IEnumerable<Batch> Batches(int epoch)
    {
        var random = new Random(unchecked(Seed + epoch));
        var n = (int)X.shape[0];
        var order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        if (Shuffle) random.Shuffle(order);
        return Iterate(order, random);
    }

    private IEnumerable<Batch> Iterate(long[] order, Random random)
    {
        for (var start = 0; start < order.Length; start += BatchSize)
        {
            var size = Math.Min(BatchSize, order.Length - start);
            var index = torch.tensor(order.AsSpan(start, size).ToArray(), device: X.device);
            var images = X.index_select(0, index);
            yield return new Batch([generator.Augment(images, random)], [Y.index_select(0, index.to(Y.device))]);
        }
    }
}
