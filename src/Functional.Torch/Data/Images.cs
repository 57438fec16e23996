using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Building;
using System.Runtime.InteropServices;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Data;

/// <summary>Keras's <c>color_mode</c>: the channels an image is converted to when it is loaded.</summary>
public enum ColorMode
{
    /// <summary>Three channels, red, green, blue (<c>"rgb"</c>, Keras's default). An alpha channel is dropped, not composited.</summary>
    Rgb,
    /// <summary>
    /// One channel (<c>"grayscale"</c>): <c>L = (299·R + 587·G + 114·B) / 1000</c> rounded to the nearest integer (ITU-R 601-2 luma,
    /// PIL's <c>convert("L")</c>); a gray source image comes back unchanged.
    /// </summary>
    Grayscale,
    /// <summary>Four channels, red, green, blue, alpha (<c>"rgba"</c>); an image without alpha gets 255. Colour is not premultiplied.</summary>
    Rgba,
}

/// <summary>Keras's <c>interpolation</c>: how an image is resampled to a target size.</summary>
/// <remarks>
/// Every method is TensorFlow's <c>tf.image.resize</c> with <c>antialias=False</c> (what <c>image_dataset_from_directory</c>
/// uses): pixel centres at half-integers, so output pixel <c>o</c> samples the source at <c>(o + ½)·in/out − ½</c>. Keras's
/// <c>load_img</c> resizes with PIL instead, which also antialiases when shrinking with <c>bilinear</c>/<c>bicubic</c>; use
/// <see cref="Area"/> to shrink without aliasing.
/// </remarks>
public enum Interpolation
{
    /// <summary>Linear in each axis between the two nearest source pixels (<c>"bilinear"</c>).</summary>
    Bilinear,
    /// <summary>The source pixel under the output pixel's centre, <c>floor((o + ½)·in/out)</c> computed in float32 as TensorFlow does (<c>"nearest"</c>).</summary>
    Nearest,
    /// <summary>Keys' cubic convolution with <c>a = −½</c> over 4 taps per axis; taps outside the image get weight 0 and the rest are renormalised (<c>"bicubic"</c>).</summary>
    Bicubic,
    /// <summary>The average of the source area each output pixel covers, weighted by overlap (<c>"area"</c>).</summary>
    Area,
}

/// <summary>
/// Keras's image helpers (<c>keras.utils.load_img</c>, <c>img_to_array</c>, <c>array_to_img</c>, <c>save_img</c>) and
/// <see cref="ImageDatasetFromDirectory"/>. Images decode with SkiaSharp (PNG, JPEG, GIF — first frame —, BMP and WebP)
/// into float32 tensors in Keras's layout: <c>(height, width, channels)</c>, values 0..255 as Keras returns them.
/// </summary>
/// <remarks>
/// Decoding is guarded: data that is not one of those formats, that is truncated or corrupt, or whose header declares more than
/// <see cref="MaxImagePixels"/> pixels is rejected with an <see cref="InvalidDataException"/> before any pixel buffer is
/// allocated for it. Colour profiles and EXIF orientation are ignored (pixel values are returned as stored), as PIL and
/// TensorFlow do in Keras's loaders.
/// Every member is thread-safe.
/// </remarks>
public static class Images
{
    /// <summary>The file extensions <see cref="ImageDatasetFromDirectory"/> reads, Keras's <c>ALLOWLIST_FORMATS</c>.</summary>
    public static IReadOnlyList<string> AllowedFormats { get; } = [".bmp", ".gif", ".jpeg", ".jpg", ".png"];

    private static long maxImagePixels = 89_478_485;

    /// <summary>
    /// The largest width × height a header may declare (PIL's <c>MAX_IMAGE_PIXELS</c> default, 89,478,485, about 9459²); larger
    /// images are refused before decoding, so a small file cannot make the decoder allocate gigabytes (a decompression bomb).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value below 1.</exception>
    public static long MaxImagePixels
    {
        get => Interlocked.Read(ref maxImagePixels);
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, $"Expected 'MaxImagePixels' to be a positive number of pixels. Received: {value}.");
            Interlocked.Exchange(ref maxImagePixels, value);
        }
    }

    /// <summary>
    /// Keras's <c>load_img</c> followed by <c>img_to_array</c>: reads an image file into a float32 tensor
    /// <c>(height, width, channels)</c> with values 0..255. With <paramref name="targetSize"/> the image is resized to
    /// (height, width); <paramref name="keepAspectRatio"/> first crops the largest centred box with the target's aspect ratio.
    /// </summary>
    /// <param name="path">The image file (PNG, JPEG, GIF, BMP or WebP, recognised by content).</param>
    /// <param name="colorMode">The channels to return: <c>Rgb</c> (3, the default), <c>Grayscale</c> (1) or <c>Rgba</c> (4).</param>
    /// <param name="targetSize">(height, width) to resize to, or null for the image's own size.</param>
    /// <param name="interpolation">The resampling method; Keras's <c>load_img</c> default is <c>nearest</c>.</param>
    /// <param name="keepAspectRatio">Crop to the target aspect ratio (centred) before resizing instead of stretching.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not an image, a corrupt or truncated one, or one larger than <see cref="MaxImagePixels"/>.</exception>
    /// <exception cref="ArgumentException">A non-positive target size.</exception>
    public static Tensor LoadImage(string path, ColorMode colorMode = ColorMode.Rgb, (int Height, int Width)? targetSize = null,
        Interpolation interpolation = Interpolation.Nearest, bool keepAspectRatio = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        CheckOptions(colorMode, targetSize, interpolation);
        var pixels = DecodeFile(path);
        return ToTensor(pixels, colorMode, targetSize, interpolation, keepAspectRatio);
    }

    /// <summary>
    /// Decodes an encoded image held in memory (an upload, say) exactly as <see cref="LoadImage"/> decodes a file: a float32
    /// tensor <c>(height, width, channels)</c> with values 0..255.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an image, a corrupt or truncated one, or one larger than <see cref="MaxImagePixels"/>.</exception>
    /// <exception cref="ArgumentException">A non-positive target size.</exception>
    public static Tensor DecodeImage(ReadOnlySpan<byte> data, ColorMode colorMode = ColorMode.Rgb, (int Height, int Width)? targetSize = null,
        Interpolation interpolation = Interpolation.Nearest, bool keepAspectRatio = false)
    {
        CheckOptions(colorMode, targetSize, interpolation);
        var pixels = Decode(data.ToArray(), "the image data");
        return ToTensor(pixels, colorMode, targetSize, interpolation, keepAspectRatio);
    }

    /// <inheritdoc cref="DecodeImage(ReadOnlySpan{byte}, ColorMode, ValueTuple{int, int}?, Interpolation, bool)"/>
    public static Tensor DecodeImage(byte[] data, ColorMode colorMode = ColorMode.Rgb, (int Height, int Width)? targetSize = null,
        Interpolation interpolation = Interpolation.Nearest, bool keepAspectRatio = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckOptions(colorMode, targetSize, interpolation);
        var pixels = Decode(data, "the image data");
        return ToTensor(pixels, colorMode, targetSize, interpolation, keepAspectRatio);
    }

    /// <summary>Decodes an encoded image read to the end of <paramref name="data"/> (at most <paramref name="maxBytes"/> bytes, 256 MiB by default).</summary>
    /// <exception cref="InvalidDataException">Not an image, a corrupt or truncated one, one larger than <see cref="MaxImagePixels"/>, or more than <paramref name="maxBytes"/> bytes.</exception>
    public static Tensor DecodeImage(Stream data, ColorMode colorMode = ColorMode.Rgb, (int Height, int Width)? targetSize = null,
        Interpolation interpolation = Interpolation.Nearest, bool keepAspectRatio = false, long maxBytes = 256L << 20)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (maxBytes < 1) throw new ArgumentException($"Expected argument 'maxBytes' to be positive. Received: maxBytes={maxBytes}.", nameof(maxBytes));
        CheckOptions(colorMode, targetSize, interpolation);
        var bytes = ReadAll(data, maxBytes);
        var pixels = Decode(bytes, "the image stream");
        return ToTensor(pixels, colorMode, targetSize, interpolation, keepAspectRatio);
    }

    /// <summary>
    /// Keras's <c>img_to_array</c>: a float32 tensor of an 8-bit bitmap's pixels, <c>(height, width, channels)</c> for
    /// <c>channels_last</c> (the default) or <c>(channels, height, width)</c>; a gray or alpha-only bitmap gives 1 channel, an
    /// opaque one 3, one with transparency 4 (unpremultiplied).
    /// </summary>
    /// <exception cref="ArgumentException">An empty bitmap, or a colour type other than 8-bit gray, alpha, RGB(A) or BGR(A).</exception>
    public static Tensor ImageToArray(SKBitmap image, DataFormat dataFormat = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Width <= 0 || image.Height <= 0)
            throw new ArgumentException($"Expected a non-empty image. Received a {image.Width}x{image.Height} bitmap.", nameof(image));
        var (mode, pixels) = image.ColorType switch
        {
            SKColorType.Gray8 or SKColorType.Alpha8 => (ColorMode.Grayscale, ReadGray(image)),
            SKColorType.Rgba8888 or SKColorType.Bgra8888 or SKColorType.Rgb888x =>
                (image.AlphaType == SKAlphaType.Opaque || image.ColorType == SKColorType.Rgb888x ? ColorMode.Rgb : ColorMode.Rgba, ReadRgba(image)),
            _ => throw new ArgumentException(
                $"Expected an 8-bit bitmap (Gray8, Alpha8, Rgba8888, Bgra8888 or Rgb888x). Received: ColorType={image.ColorType}.", nameof(image)),
        };
        using var scope = NewDisposeScope();
        var t = ToTensor(pixels, mode, null, Interpolation.Nearest, false);
        return (dataFormat.IsChannelsLast ? t : t.permute(2, 0, 1).contiguous()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Keras's <c>array_to_img</c>: an 8-bit bitmap from a 3-D tensor with 1 (gray), 3 (RGB) or 4 (RGBA) channels. With
    /// <paramref name="scale"/> (the default) values are shifted so the minimum is 0 and then scaled so the maximum is 255;
    /// otherwise they must already lie in 0..255. Values are rounded to the nearest integer.
    /// </summary>
    /// <exception cref="ArgumentException">Not rank 3, a channel count other than 1, 3 or 4, non-finite values, more than <see cref="MaxImagePixels"/> pixels, or (without scaling) values outside 0..255.</exception>
    public static SKBitmap ArrayToImage(Tensor x, DataFormat dataFormat = default, bool scale = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.IsInvalid) throw new ObjectDisposedException(nameof(Tensor), "Expected an image array; received a disposed tensor.");
        if (x.dim() != 3)
            throw new ArgumentException($"Expected image array to have rank 3 (single image). Got array with shape: ({string.Join(", ", x.shape)})", nameof(x));
        using var scope = NewDisposeScope();
        var hwc = dataFormat.IsChannelsLast ? x : x.permute(1, 2, 0);
        var (h, w, c) = ((int)hwc.shape[0], (int)hwc.shape[1], (int)hwc.shape[2]);
        if (c is not (1 or 3 or 4))
            throw new ArgumentException($"Unsupported channel number: {c}. Expected 1 (grayscale), 3 (RGB) or 4 (RGBA) channels on the {dataFormat} axis.", nameof(x));
        if (h == 0 || w == 0) throw new ArgumentException($"Expected a non-empty image. Received shape ({string.Join(", ", x.shape)}).", nameof(x));
        // Before any copy: a broadcast view can declare billions of pixels without memory behind them.
        if ((long)h * w > MaxImagePixels)
            throw new ArgumentException(
                $"Expected an image of at most Images.MaxImagePixels = {MaxImagePixels} pixels. Received shape ({string.Join(", ", x.shape)}) = {(long)h * w} pixels.", nameof(x));
        var values = hwc.to_type(ScalarType.Float64).cpu();
        if (!values.isfinite().all().item<bool>())
            throw new ArgumentException("Expected finite pixel values. Received an array containing NaN or infinity.", nameof(x));
        if (scale)
        {
            values = values - values.min();
            var max = values.max().item<double>();
            if (max != 0) values = values * (255.0 / max);
        }
        else
        {
            var (lo, hi) = (values.min().item<double>(), values.max().item<double>());
            if (lo < 0 || hi > 255)
                throw new ArgumentException($"With scale=false pixel values must lie in [0, 255]. Received values from {lo} to {hi}.", nameof(x));
        }
        var bytes = values.round().to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();
        var bitmap = new SKBitmap(new SKImageInfo(w, h, c == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888,
            c == 4 ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        var dest = new byte[(long)h * w * (c == 1 ? 1 : 4)];
        if (c == 1) bytes.CopyTo(dest, 0);
        else
            for (long p = 0, n = (long)h * w; p < n; p++)
            {
                dest[p * 4] = bytes[p * c];
                dest[p * 4 + 1] = bytes[p * c + 1];
                dest[p * 4 + 2] = bytes[p * c + 2];
                dest[p * 4 + 3] = c == 4 ? bytes[p * c + 3] : (byte)255;
            }
        WriteRows(bitmap, dest, c == 1 ? w : w * 4);
        return bitmap;
    }

    /// <summary>
    /// Keras's <c>save_img</c>: writes a 3-D image tensor (see <see cref="ArrayToImage"/>) to <paramref name="path"/> as PNG
    /// (lossless), JPEG or WebP, chosen by <paramref name="fileFormat"/> or else by the file's extension.
    /// </summary>
    /// <param name="path">The file to write (overwritten).</param>
    /// <param name="x">The image, values 0..255 (or any range with <paramref name="scale"/>).</param>
    /// <param name="dataFormat"><c>channels_last</c> (default) or <c>channels_first</c>.</param>
    /// <param name="fileFormat"><c>"png"</c>, <c>"jpeg"</c>/<c>"jpg"</c> or <c>"webp"</c>; null: from the extension.</param>
    /// <param name="scale">Rescale the values to 0..255 first (Keras's default).</param>
    /// <param name="quality">JPEG/WebP quality 0..100 (ignored for PNG).</param>
    /// <exception cref="ArgumentException">An unknown format, a quality outside 0..100, or an invalid array, or a path that is a directory.</exception>
    public static void SaveImage(string path, Tensor x, DataFormat dataFormat = default, string? fileFormat = null, bool scale = true, int quality = 95)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(x);
        if (quality is < 0 or > 100) throw new ArgumentException($"Expected argument 'quality' to be in [0, 100]. Received: quality={quality}.", nameof(quality));
        var format = (fileFormat ?? Path.GetExtension(path).TrimStart('.')).Trim().ToLowerInvariant() switch
        {
            "png" => SKEncodedImageFormat.Png,
            "jpg" or "jpeg" => SKEncodedImageFormat.Jpeg,
            "webp" => SKEncodedImageFormat.Webp,
            var other => throw new ArgumentException(
                $"Expected file format 'png', 'jpeg' or 'webp' (from 'fileFormat' or the extension of '{path}'). Received: '{other}'.", nameof(fileFormat)),
        };
        if (Directory.Exists(path))
            throw new ArgumentException($"Cannot save the image to '{path}': it is a directory.", nameof(path));
        using var bitmap = ArrayToImage(x, dataFormat, scale);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode a {bitmap.Width}x{bitmap.Height} {bitmap.ColorType} image as {format}.");
        using var file = File.Create(path);
        data.SaveTo(file);
    }

    /// <summary>
    /// Keras's <c>image_dataset_from_directory</c>: images in class subfolders, streamed from disk in batches. See
    /// <see cref="ImageDataset"/> for the arguments.
    /// </summary>
    public static ImageDataset ImageDatasetFromDirectory(string directory, IReadOnlyList<int>? labels = null, string? labelMode = "int",
        IReadOnlyList<string>? classNames = null, ColorMode colorMode = ColorMode.Rgb, int batchSize = 32, (int Height, int Width)? imageSize = null,
        bool shuffle = true, int? seed = null, double? validationSplit = null, string? subset = null, Interpolation interpolation = Interpolation.Bilinear,
        bool followLinks = false, bool cropToAspectRatio = false, int? prefetchBatches = null, int? workers = null) =>
        ImageDataset.FromDirectory(directory, labels, labelMode, classNames, colorMode, batchSize, imageSize, shuffle, seed, validationSplit, subset,
            interpolation, followLinks, cropToAspectRatio, prefetchBatches, workers);

    /// <summary>
    /// Keras's <c>image_dataset_from_directory(..., subset="both")</c>: the training and the validation datasets of one split
    /// (the same seeded file order, disjoint subsets).
    /// </summary>
    public static (ImageDataset Training, ImageDataset Validation) ImageDatasetsFromDirectory(string directory, double validationSplit, int seed,
        IReadOnlyList<int>? labels = null, string? labelMode = "int", IReadOnlyList<string>? classNames = null, ColorMode colorMode = ColorMode.Rgb,
        int batchSize = 32, (int Height, int Width)? imageSize = null, bool shuffle = true, Interpolation interpolation = Interpolation.Bilinear,
        bool followLinks = false, bool cropToAspectRatio = false, int? prefetchBatches = null, int? workers = null) =>
        ImageDataset.BothFromDirectory(directory, labels, labelMode, classNames, colorMode, batchSize, imageSize, shuffle, seed, validationSplit,
            interpolation, followLinks, cropToAspectRatio, prefetchBatches, workers);

    // ---- internals: decoding to managed pixels and resampling, shared with ImageDataset (no torch here, so workers can run it) ----

    internal static void CheckOptions(ColorMode colorMode, (int Height, int Width)? targetSize, Interpolation interpolation, string sizeName = "targetSize")
    {
        if (!Enum.IsDefined(colorMode))
            throw new ArgumentException($"`color_mode` must be one of {{\"rgb\", \"rgba\", \"grayscale\"}}. Received: color_mode={(int)colorMode}", nameof(colorMode));
        if (!Enum.IsDefined(interpolation))
            throw new ArgumentException($"Expected argument 'interpolation' to be Bilinear, Nearest, Bicubic or Area. Received: interpolation={(int)interpolation}", nameof(interpolation));
        if (targetSize is { } t && (t.Height <= 0 || t.Width <= 0))
            throw new ArgumentException($"Expected argument '{sizeName}' to be a (height, width) of positive integers. Received: {sizeName}=({t.Height}, {t.Width}).", sizeName);
        if (targetSize is { } big && (long)big.Height * big.Width > MaxImagePixels)
            throw new ArgumentException(
                $"Expected argument '{sizeName}' to have at most Images.MaxImagePixels = {MaxImagePixels} pixels. Received: {sizeName}=({big.Height}, {big.Width}).", sizeName);
        // Images.MaxImagePixels may be raised past what one float buffer holds (Array.MaxLength elements, RGBA worst case).
        if (targetSize is { } wide && (long)wide.Height * wide.Width * 4 > Array.MaxLength)
            throw new ArgumentException(
                $"Expected argument '{sizeName}' to fit one buffer ({Array.MaxLength} values for 4 channels). Received: {sizeName}=({wide.Height}, {wide.Width}).", sizeName);
    }

    internal static int Channels(ColorMode mode) => mode switch { ColorMode.Grayscale => 1, ColorMode.Rgba => 4, _ => 3 };

    /// <summary>Decoded 8-bit pixels: RGBA, unpremultiplied, row-major.</summary>
    internal sealed record Pixels(byte[] Rgba, int Height, int Width);

    internal static Pixels DecodeFile(string path)
    {
        // The size on disk first: a FIFO or a device (/dev/zero, a named pipe called x.png) reports 0 bytes, and reading it
        // would block forever or never end; a regular file is read for exactly the length it had when it was opened.
        var info = new FileInfo(path);
        if (Directory.Exists(path)) throw new FileNotFoundException($"No image file at '{path}': it is a directory.", path);
        if (!info.Exists) throw new FileNotFoundException($"No image file at '{path}'.", path);
        if (info.Length == 0)
            throw new InvalidDataException($"Cannot decode '{path}': it is empty (0 bytes), or not a regular file (a pipe or a device).");
        if (info.Length > Array.MaxLength)
            throw new InvalidDataException($"Cannot decode '{path}': {info.Length} bytes is larger than one buffer holds ({Array.MaxLength}).");
        byte[] bytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var length = file.Length;
            if (length == 0) throw new InvalidDataException($"Cannot decode '{path}': it is empty (0 bytes).");
            if (length > Array.MaxLength)
                throw new InvalidDataException($"Cannot decode '{path}': {length} bytes is larger than one buffer holds ({Array.MaxLength}).");
            bytes = new byte[length];
            file.ReadExactly(bytes);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"No image file at '{path}'.", path, e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Cannot decode '{path}': the file shrank while it was read.", e);
        }
        catch (UnauthorizedAccessException e) when (Directory.Exists(path))
        {
            // .NET reports a directory as "access denied", which sends one looking at permissions.
            throw new FileNotFoundException($"No image file at '{path}': it is a directory.", path, e);
        }
        return Decode(bytes, $"'{path}'");
    }

    /// <summary>
    /// The size an encoded image's header declares, read without decoding its pixels — for a service that sets its own,
    /// lower limit than <see cref="MaxImagePixels"/> before it decodes an upload.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a PNG, JPEG, GIF, BMP or WebP image, or an unreadable or empty header.</exception>
    public static (int Height, int Width) ReadImageSize(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var skData = SKData.CreateCopy(data);
        using var codec = OpenCodec(data, skData, "the image data");
        return (codec.Info.Height, codec.Info.Width);
    }

    // The codec of a supported format with a non-empty declared size.
    private static SKCodec OpenCodec(byte[] data, SKData skData, string name)
    {
        if (data.Length == 0) throw new InvalidDataException($"Cannot decode {name}: it is empty (0 bytes).");
        var codec = SKCodec.Create(skData)
            ?? throw new InvalidDataException($"Cannot decode {name}: not a PNG, JPEG, GIF, BMP or WebP image (unrecognised or corrupt header).");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Gif
            or SKEncodedImageFormat.Bmp or SKEncodedImageFormat.Webp))
        {
            var format = codec.EncodedFormat;
            codec.Dispose();
            throw new InvalidDataException($"Cannot decode {name}: {format} images are not supported (PNG, JPEG, GIF, BMP or WebP).");
        }
        if (codec.Info.Width <= 0 || codec.Info.Height <= 0)
        {
            var (ew, eh) = (codec.Info.Width, codec.Info.Height);
            codec.Dispose();
            throw new InvalidDataException($"Cannot decode {name}: the header declares an empty {ew}x{eh} image.");
        }
        return codec;
    }

    internal static Pixels Decode(byte[] data, string name)
    {
        using var skData = SKData.CreateCopy(data);
        using var codec = OpenCodec(data, skData, name);
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        var limit = MaxImagePixels;
        if ((long)w * h > limit)
            throw new InvalidDataException(
                $"Cannot decode {name}: its header declares {w}x{h} = {(long)w * h} pixels, more than Images.MaxImagePixels = {limit} " +
                "(a possible decompression bomb). Raise Images.MaxImagePixels to accept larger images.");
        if ((long)w * h * 4 > Array.MaxLength)
            throw new InvalidDataException($"Cannot decode {name}: its header declares {w}x{h} pixels, more than one buffer holds ({Array.MaxLength} bytes).");
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = new byte[(long)w * h * 4];
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        SKCodecResult result;
        try
        {
            result = codec.GetPixels(info, handle.AddrOfPinnedObject());
        }
        finally
        {
            handle.Free();
        }
        if (result != SKCodecResult.Success)
            throw new InvalidDataException(result switch
            {
                SKCodecResult.IncompleteInput => $"Cannot decode {name}: the {codec.EncodedFormat} data is truncated (image file is truncated).",
                SKCodecResult.ErrorInInput => $"Cannot decode {name}: the {codec.EncodedFormat} data is corrupt.",
                _ => $"Cannot decode {name}: the {codec.EncodedFormat} decoder failed ({result}).",
            });
        return new Pixels(pixels, h, w);
    }

    private static byte[] ReadAll(Stream stream, long maxBytes)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                throw new InvalidDataException($"Cannot decode the image stream: it is longer than maxBytes = {maxBytes} bytes.");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>Keras's crop for <c>keep_aspect_ratio</c>/<c>crop_to_aspect_ratio</c>: the largest centred box with the target's aspect ratio.</summary>
    internal static (int Top, int Left, int Height, int Width) AspectCrop(int height, int width, int targetHeight, int targetWidth)
    {
        var cropHeight = (int)Math.Min(height, (long)width * targetHeight / targetWidth);
        var cropWidth = (int)Math.Min(width, (long)height * targetWidth / targetHeight);
        cropHeight = Math.Max(cropHeight, 1);
        cropWidth = Math.Max(cropWidth, 1);
        return ((height - cropHeight) / 2, (width - cropWidth) / 2, cropHeight, cropWidth);
    }

    /// <summary>The output shape for the given options.</summary>
    internal static (int Height, int Width) OutputSize(Pixels p, (int Height, int Width)? targetSize) => targetSize ?? (p.Height, p.Width);

    /// <summary>Converts to the colour mode, crops and resizes, writing <c>height·width·channels</c> floats (0..255) into <paramref name="dest"/>.</summary>
    internal static void Render(Pixels p, ColorMode mode, (int Height, int Width)? targetSize, Interpolation interpolation, bool crop, Span<float> dest)
    {
        var c = Channels(mode);
        var (top, left, h, w) = targetSize is { } t && crop ? AspectCrop(p.Height, p.Width, t.Height, t.Width) : (0, 0, p.Height, p.Width);
        var (oh, ow) = targetSize ?? (h, w);
        if (dest.Length != oh * ow * c) throw new ArgumentException($"Expected a buffer of {oh * ow * c} floats. Received {dest.Length}.", nameof(dest));
        CheckResizeBuffer(h, w, oh, ow, c);
        Span<float> source = oh == h && ow == w ? dest : new float[h * w * c];
        for (var r = 0; r < h; r++)
        {
            var row = (long)(top + r) * p.Width + left;
            for (var col = 0; col < w; col++)
            {
                var s = (int)((row + col) * 4);
                var o = (r * w + col) * c;
                byte red = p.Rgba[s], green = p.Rgba[s + 1], blue = p.Rgba[s + 2];
                switch (c)
                {
                    case 1:
                        source[o] = (299 * red + 587 * green + 114 * blue + 500) / 1000;
                        break;
                    default:
                        source[o] = red;
                        source[o + 1] = green;
                        source[o + 2] = blue;
                        if (c == 4) source[o + 3] = p.Rgba[s + 3];
                        break;
                }
            }
        }
        if (oh == h && ow == w) return;
        Resize(source, h, w, c, dest, oh, ow, interpolation);
    }

    // Resizing goes through a (source height, target width) buffer: a very wide target from a tall source must not overflow
    // its int size (checked with the uncropped height before anything is allocated).
    private static void CheckResizeBuffer(int h, int w, int oh, int ow, int c)
    {
        if ((oh != h || ow != w) && (long)h * ow * c > Array.MaxLength)
            throw new ArgumentException(
                $"Resizing a {w}x{h} image to targetSize=({oh}, {ow}) needs an intermediate buffer of {(long)h * ow * c} values, more than one buffer holds ({Array.MaxLength}).",
                "targetSize");
    }

    private static Tensor ToTensor(Pixels p, ColorMode mode, (int Height, int Width)? targetSize, Interpolation interpolation, bool crop)
    {
        var (oh, ow) = OutputSize(p, targetSize);
        var c = Channels(mode);
        CheckResizeBuffer(p.Height, p.Width, oh, ow, c);
        var values = new float[oh * ow * c];
        Render(p, mode, targetSize, interpolation, crop, values);
        Native.LibTorch.EnsureLoaded();
        return torch.tensor(values, [oh, ow, c]);
    }

    /// <summary>Per output index along one axis: the first source index, and the weights of consecutive source indices.</summary>
    private readonly record struct Taps(int[] Start, float[][] Weights);

    private static Taps AxisTaps(int inSize, int outSize, Interpolation method)
    {
        var scale = (double)inSize / outSize;
        var starts = new int[outSize];
        var weights = new float[outSize][];
        for (var o = 0; o < outSize; o++)
        {
            switch (method)
            {
                case Interpolation.Nearest:
                    // floor((o + ½)·in/out) in float32, as TensorFlow and torch compute it (an exact tie may round down there).
                    starts[o] = Math.Min((int)MathF.Floor((o + 0.5f) * ((float)inSize / outSize)), inSize - 1);
                    weights[o] = [1f];
                    break;
                case Interpolation.Bilinear:
                {
                    var x = (o + 0.5) * scale - 0.5;
                    var lo = Math.Floor(x);
                    var frac = (float)(x - lo);
                    var a = Math.Clamp((int)lo, 0, inSize - 1);
                    var b = Math.Clamp((int)lo + 1, 0, inSize - 1);
                    if (a == b) { starts[o] = a; weights[o] = [1f]; }
                    else { starts[o] = a; weights[o] = [1 - frac, frac]; }
                    break;
                }
                case Interpolation.Bicubic:
                {
                    var x = (o + 0.5) * scale - 0.5;
                    var lo = (int)Math.Floor(x);
                    var t = x - lo;
                    var first = Math.Max(lo - 1, 0);
                    var last = Math.Min(lo + 2, inSize - 1);
                    var ws = new float[last - first + 1];
                    double sum = 0;
                    for (var i = first; i <= last; i++) { var k = Keys(i - lo - t); ws[i - first] = (float)k; sum += k; }
                    for (var i = 0; i < ws.Length; i++) ws[i] = (float)(ws[i] / sum);
                    starts[o] = first;
                    weights[o] = ws;
                    break;
                }
                default:   // Area
                {
                    var from = o * scale;
                    var to = (o + 1) * scale;
                    var first = (int)Math.Floor(from);
                    var last = Math.Min((int)Math.Ceiling(to) - 1, inSize - 1);
                    var ws = new float[last - first + 1];
                    for (var i = first; i <= last; i++) ws[i - first] = (float)((Math.Min(to, i + 1) - Math.Max(from, i)) / scale);
                    starts[o] = first;
                    weights[o] = ws;
                    break;
                }
            }
        }
        return new Taps(starts, weights);

        static double Keys(double d)
        {
            const double a = -0.5;
            d = Math.Abs(d);
            return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1
                : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
                : 0;
        }
    }

    /// <summary>Separable resampling of HWC floats: columns first, then rows; results are clamped to 0..255 as 8-bit images are.</summary>
    private static void Resize(ReadOnlySpan<float> source, int h, int w, int c, Span<float> dest, int oh, int ow, Interpolation method)
    {
        var cols = AxisTaps(w, ow, method);
        var rows = AxisTaps(h, oh, method);
        var mid = new float[h * ow * c];
        for (var r = 0; r < h; r++)
            for (var o = 0; o < ow; o++)
            {
                var ws = cols.Weights[o];
                var start = cols.Start[o];
                for (var ch = 0; ch < c; ch++)
                {
                    float acc = 0;
                    for (var k = 0; k < ws.Length; k++) acc += ws[k] * source[(r * w + start + k) * c + ch];
                    mid[(r * ow + o) * c + ch] = acc;
                }
            }
        for (var o = 0; o < oh; o++)
        {
            var ws = rows.Weights[o];
            var start = rows.Start[o];
            for (var col = 0; col < ow; col++)
                for (var ch = 0; ch < c; ch++)
                {
                    float acc = 0;
                    for (var k = 0; k < ws.Length; k++) acc += ws[k] * mid[((start + k) * ow + col) * c + ch];
                    dest[(o * ow + col) * c + ch] = Math.Clamp(acc, 0f, 255f);
                }
        }
    }

    private static Pixels ReadGray(SKBitmap image)
    {
        var (w, h) = (image.Width, image.Height);
        var rgba = new byte[(long)w * h * 4];
        var span = image.GetPixelSpan();
        for (var r = 0; r < h; r++)
            for (var col = 0; col < w; col++)
            {
                var v = span[r * image.RowBytes + col];
                var o = ((long)r * w + col) * 4;
                rgba[o] = rgba[o + 1] = rgba[o + 2] = v;
                rgba[o + 3] = 255;
            }
        return new Pixels(rgba, h, w);
    }

    private static Pixels ReadRgba(SKBitmap image)
    {
        // Copy into an unpremultiplied RGBA bitmap of our own: Skia converts BGRA, RGBx and premultiplied alpha for us.
        var (w, h) = (image.Width, image.Height);
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[(long)w * h * 4];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = image.PeekPixels();
            if (pixmap is null || !pixmap.ReadPixels(info, handle.AddrOfPinnedObject(), w * 4, 0, 0))
                throw new ArgumentException($"Could not read the pixels of a {image.ColorType} {image.AlphaType} bitmap.", nameof(image));
        }
        finally
        {
            handle.Free();
        }
        return new Pixels(rgba, h, w);
    }

    private static void WriteRows(SKBitmap bitmap, byte[] packed, int packedRowBytes)
    {
        var dest = bitmap.GetPixels();
        for (var r = 0; r < bitmap.Height; r++)
            Marshal.Copy(packed, r * packedRowBytes, dest + r * bitmap.RowBytes, packedRowBytes);
    }
}
