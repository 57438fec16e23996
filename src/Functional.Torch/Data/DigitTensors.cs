using Functional.Shapes;
using Functional.Models;
using Functional.Data;
using Functional.Torch.Building;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Data;

/// <summary>Turns MNIST-style byte data into tensors.</summary>
public static class DigitTensors
{
    /// <summary>Images as float32 in [0, 1], shaped (N, 28, 28, 1) — Keras's channels_last — or (N, 1, 28, 28) for channels_first.</summary>
    public static Tensor Images(DigitSet set, DataFormat dataFormat = default)
    {
        Native.LibTorch.EnsureLoaded();
        using var bytes = torch.tensor(set.Images, dtype: ScalarType.Byte);
        using var floats = bytes.to_type(ScalarType.Float32);
        using var scaled = floats.div_(255.0f);
        return dataFormat.IsChannelsLast ? scaled.reshape(set.Count, 28, 28, 1) : scaled.reshape(set.Count, 1, 28, 28);
    }

    /// <summary>Labels as int64 class indices, shaped (N).</summary>
    public static Tensor Labels(DigitSet set)
    {
        Native.LibTorch.EnsureLoaded();
        using var bytes = torch.tensor(set.Labels, dtype: ScalarType.Byte);
        return bytes.to_type(ScalarType.Int64);
    }
}
