using Functional.Shapes;
using Functional.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Layers;

/// <summary>
/// Keras's text and lookup preprocessing on tensors: strings are not tensors, so <see cref="TextVectorization"/> and
/// <see cref="StringLookup"/> run on the host and their results become int64 (int mode) or float32 tensors here;
/// <see cref="IntegerLookup"/> maps integer tensors to tensors.
/// </summary>
public static class TextPreprocessingCalls
{
    /// <summary>A host result as a tensor (int64 indices or float32 encodings) on <paramref name="device"/> (the CPU by default).</summary>
    public static Tensor ToTensor(this HostOutput output, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var t = output.Ints is { } ints ? torch.tensor(ints.Data, ints.Shape, ScalarType.Int64)
            : torch.tensor(output.Floats!.Data, output.Floats.Shape, ScalarType.Float32);
        if (device is null || device.Type == DeviceType.CPU) return t;
        using (t) return t.to(device.ToTorch());
    }

    /// <summary>Keras's <c>vectorize_layer(["some text", …])</c>: (batch, length) int64 indices, or (batch, depth) float32.</summary>
    public static Tensor Call(this TextVectorization layer, IReadOnlyList<string> texts, Device? device = null) =>
        layer.Apply(texts).ToTensor(device);

    /// <summary>Keras's <c>lookup(["a", "b"])</c> on a rank-1 batch of strings.</summary>
    public static Tensor Call(this StringLookup layer, IReadOnlyList<string> tokens, Device? device = null) =>
        layer.Apply(tokens).ToTensor(device);

    /// <summary>Keras's <c>lookup([["a", "c"], ["d", "z"]])</c> on a rank-2 batch of strings.</summary>
    public static Tensor Call(this StringLookup layer, IReadOnlyList<IReadOnlyList<string>> rows, Device? device = null) =>
        layer.Apply(rows).ToTensor(device);

    /// <summary>Keras's <c>IntegerLookup</c> on an integer tensor: int64 indices (int mode, or the values back with
    /// <c>invert</c>), or float32 encodings, on the tensor's device.</summary>
    public static Tensor Call(this IntegerLookup layer, Tensor values)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return IntegerLookupOps.Apply(layer, values);
    }

    /// <summary>Keras's <c>adapt</c> on an integer tensor: rank 1, each value a document; rank 2, each row one.</summary>
    public static IntegerLookup Adapt(this IntegerLookup layer, Tensor data)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(data);
        var values = IntegerLookupOps.Values(layer, data);
        return data.dim() switch
        {
            0 or 1 => layer.Adapt(values),
            2 => layer.Adapt(values.Chunk((int)data.shape[1]).Select(r => (IReadOnlyList<long>)r)),
            _ => throw new ArgumentException($"{layer.Describe()}: adapt takes a rank-1 or rank-2 tensor; received shape ({string.Join(", ", data.shape)}).", nameof(data)),
        };
    }
}

/// <summary>IntegerLookup on integer tensors (computed on the host, returned on the input's device).</summary>
public static class IntegerLookupOps
{
    /// <summary>The values of an integer tensor (a floating one must hold integers), row-major.</summary>
    public static long[] Values(IntegerLookup layer, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();   // the casts and checks below are freed here
        if (x.is_floating_point() && x.numel() > 0
            && ((x - x.floor()).abs().max().item<double>() != 0 || x.isnan().any().item<bool>()))
            throw new ArgumentException($"{layer.Describe()} takes integer values; received a {x.dtype} tensor with non-integer values.", nameof(x));
        return x.to_type(ScalarType.Int64).cpu().contiguous().data<long>().ToArray();
    }

    /// <summary>The layer on a tensor: int64 indices (or values with invert), or float32 encodings, on its device.</summary>
    public static Tensor Apply(IntegerLookup layer, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var shape = x.shape;
        var values = Values(layer, x);
        var result = layer.Invert
            ? torch.tensor(layer.Inverse(new HostArray<long>(values, shape)).Data, shape, ScalarType.Int64)
            : layer.Apply(values, shape).ToTensor();
        if (x.device_type == DeviceType.CPU) return result;
        using (result) return result.to(x.device);
    }
}
