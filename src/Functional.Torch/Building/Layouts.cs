using Functional.Layers;
using Functional.Models;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Memory-layout helpers for permuted tensors.</summary>
public static class Layouts
{
    /// <summary>
    /// The tensor with standard (row-major) strides. A permuted NHWC tensor with one channel, such as (N, 1, H, W) with
    /// strides (H·W, 1, W, 1), counts as "contiguous" (size-1 dimensions are ignored) yet libtorch's convolution reads
    /// those strides as channels_last and returned wrong values for some shapes; so whenever the strides differ from
    /// the row-major ones, this makes a real row-major copy.
    /// </summary>
    public static Tensor Standard(Tensor t)
    {
        var shape = t.shape;
        var strides = t.stride();
        long expected = 1;
        var standard = true;
        for (var d = shape.Length - 1; d >= 0; d--)
        {
            if (strides[d] != expected) { standard = false; break; }
            expected *= shape[d];
        }
        if (standard) return t;
        var copy = empty(shape, t.dtype, t.device);
        copy.copy_(t);
        return copy;
    }
}
