using Functional.Data;
using Functional.Torch.Data;
using TorchSharp;

namespace Functional.Examples.Service;

/// <summary>
/// Uploaded PNG and JPEG images as instances: decoded by <see cref="Images.DecodeImage(byte[], ColorMode, ValueTuple{int, int}?, Interpolation, bool)"/>
/// (SkiaSharp; corrupt, truncated and oversized images are refused before any pixel buffer is made), converted to the
/// model's channels (grayscale for one, RGB for three), resized to its input size with area averaging (exact at the
/// same size, no aliasing when shrinking), and scaled to [0, 1] — pixels / 255, as the MNIST model was trained.
/// MNIST digits are light on a dark background; a dark digit on white paper should be inverted by the client.
/// </summary>
public static class ImageInstances
{
    /// <summary>One instance's values from an encoded image; <paramref name="name"/> says where it came from, starting a message (<c>The request body</c>, <c>instances[2]</c>).</summary>
    /// <exception cref="BadRequestException">Not a PNG or JPEG, a corrupt one, or a model whose input is not an image.</exception>
    public static float[] Decode(byte[] bytes, ServedModel model, string name, long maxPixels = 4096L * 4096)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(model);
        if (model.ImageInput is not var (height, width, channels))
            throw new BadRequestException(
                $"Model '{model.Name}' takes instances of shape {model.InputShape.ToSampleString()}, which is not an image " +
                "(height, width, 1 or 3 channels); send JSON instances.");
        if (!IsPng(bytes) && !IsJpeg(bytes))
            throw new BadRequestException($"{name} is not a PNG or JPEG image (it starts with {Convert.ToHexString(bytes.AsSpan(0, Math.Min(8, bytes.Length)))}).");
        using var scope = torch.NewDisposeScope();
        torch.Tensor pixels;
        try
        {
            var (declaredHeight, declaredWidth) = Images.ReadImageSize(bytes);
            if ((long)declaredHeight * declaredWidth > maxPixels)
                throw new BadRequestException(
                    $"{name} declares a {declaredWidth}x{declaredHeight} image ({(long)declaredWidth * declaredHeight} pixels); this service decodes " +
                    $"at most {maxPixels} pixels (--max-image-pixels).");
            pixels = Images.DecodeImage(bytes, channels == 1 ? ColorMode.Grayscale : ColorMode.Rgb, (height, width), Interpolation.Area);
        }
        catch (InvalidDataException e)
        {
            throw new BadRequestException($"{name} is not a PNG or JPEG image this service can read: {e.Message}");
        }
        using var scaled = pixels.div(255.0f).contiguous();
        return scaled.data<float>().ToArray();
    }

    private static bool IsPng(ReadOnlySpan<byte> b) => b.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);

    private static bool IsJpeg(ReadOnlySpan<byte> b) => b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]);
}
