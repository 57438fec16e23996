using Functional.Torch.Native;
using TorchSharp;

namespace Functional.Torch;

/// <summary>Where a model's weights live and its computations run: the CPU or a CUDA GPU.</summary>
public sealed record Device
{
    private Device(DeviceType type, int index) { Type = type; Index = index; }

    /// <summary>CPU or CUDA.</summary>
    public DeviceType Type { get; }

    /// <summary>The GPU index for CUDA; -1 for the CPU.</summary>
    public int Index { get; }

    /// <summary>The CPU.</summary>
    public static Device Cpu { get; } = new(DeviceType.CPU, -1);

    /// <summary>CUDA GPU <paramref name="index"/>; fails with a clear message when CUDA is not available.</summary>
    public static Device Cuda(int index = 0)
    {
        if (!LibTorch.CudaAvailable())
            throw new InvalidOperationException(
                "CUDA is not available: the libtorch in use is CPU-only or no GPU is visible. " +
                "Point FUNCTIONAL_LIBTORCH at a CUDA libtorch (e.g. a CUDA PyTorch's torch/lib) — see README, 'Devices'.");
        var count = torch.cuda.device_count();
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), $"CUDA device {index} does not exist; {count} visible.");
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary>CUDA GPU 0 when available, otherwise the CPU.</summary>
    public static Device Default => LibTorch.CudaAvailable() ? Cuda(0) : Cpu;

    /// <summary>Parses <c>cpu</c>, <c>cuda</c>, <c>cuda:1</c> or <c>auto</c>.</summary>
    public static Device Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "cpu" => Cpu,
        "auto" => Default,
        "cuda" or "gpu" => Cuda(0),
        var s when s.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(s[5..], out var i) => Cuda(i),
        _ => throw new ArgumentException($"Expected a device 'cpu', 'cuda', 'cuda:N' or 'auto'. Received: '{text}'.", nameof(text)),
    };

    /// <summary>The TorchSharp device.</summary>
    internal torch.Device ToTorch()
    {
        LibTorch.EnsureLoaded();
        return Type == DeviceType.CUDA ? new torch.Device(DeviceType.CUDA, Index) : torch.CPU;
    }

    /// <inheritdoc />
    public override string ToString() => Type == DeviceType.CUDA ? $"cuda:{Index}" : "cpu";

    /// <summary>
    /// <paramref name="t"/> on this device: the tensor itself when it is already there (no new native handle, which
    /// <c>Tensor.to</c> would make even for a no-op), otherwise a copy.
    /// </summary>
    internal torch.Tensor Place(torch.Tensor t)
    {
        var type = t.device_type;
        if (type == Type && (type != DeviceType.CUDA || t.device_index == Index)) return t;
        return t.to(ToTorch());
    }
}
