using Functional.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Saving;

/// <summary>
/// Saving and loading a built network's weights as safetensors. Keys are Keras's weight paths (<c>conv2d/kernel</c>,
/// <c>dense/bias</c>, plus non-trainable buffers such as moving statistics) and values are in Keras's layout
/// (a Conv2D kernel is <c>(kh, kw, in, out)</c>), so files read naturally next to Keras's. Loading checks every name and
/// shape before changing anything: a missing, extra or differently shaped weight is rejected naming it — except a LoRA
/// layer's <c>lora_kernel_a</c> and <c>lora_kernel_b</c> when the file has neither (it was saved before LoRA was
/// enabled): they keep their fresh values (he_uniform and zeros), which is Keras's load-weights-then-<c>enable_lora</c>.
/// </summary>
/// <remarks>The LoRA weights are saved as they are, next to the frozen kernel; Keras's own <c>.weights.h5</c> instead
/// stores the kernel with the delta merged in and no adapter.</remarks>
public static class WeightFiles
{
    /// <summary>Writes every weight and buffer of <paramref name="network"/> to a safetensors file.</summary>
    public static void SaveWeights(this BuiltNetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        SafeTensors.Write(path, Collect(network), new Dictionary<string, string>
        {
            ["format"] = "functional-weights",
            ["model"] = network.Declaration.Name,
        });
    }

    /// <summary>Reads weights saved by <see cref="SaveWeights"/> into <paramref name="network"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Truncated or corrupt, or the weights do not match the model (named in the message).</exception>
    public static void LoadWeights(this BuiltNetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        var file = SafeTensors.Read(path);
        if (file.Metadata.TryGetValue("format", out var format) && format == "functional-checkpoint")
        {
            var weights = file.Tensors.Where(t => t.Name.StartsWith("weights/", StringComparison.Ordinal))
                .Select(t => t with { Name = t.Name["weights/".Length..] }).ToList();
            Apply(Plan(network, new SafeTensorsFile(weights, file.Metadata), path));
            return;
        }
        Apply(Plan(network, file, path));
    }

    /// <summary>The network's state as named tensors in Keras's layout.</summary>
    internal static List<SafeTensor> Collect(BuiltNetwork network)
    {
        var result = new List<SafeTensor>();
        foreach (var (name, tensor, dispose) in State(network))
        {
            result.Add(SafeTensors.FromTensor(name, tensor));
            if (dispose) tensor.Dispose();
        }
        return result;
    }

    /// <summary>Every weight (as its Keras-layout view, to be disposed) and buffer of the network.</summary>
    internal static IEnumerable<(string Name, Tensor Tensor, bool Dispose)> State(BuiltNetwork network)
    {
        foreach (var w in network.Weights)
            yield return (w.Name, w.KerasView(), true);
        foreach (var layer in network.BuiltLayers)
            foreach (var (name, buffer) in layer.KerasBuffers())
                yield return ($"{layer.Layer.Name ?? layer.Layer.DefaultNameStem}/{name}", buffer, false);
    }

    internal sealed record LoadPlan(List<(string Name, SafeTensor Stored)> Items, BuiltNetwork Network);

    /// <summary>Checks names and shapes against the model; throws before anything is written.</summary>
    internal static LoadPlan Plan(BuiltNetwork network, SafeTensorsFile file, string path)
    {
        var stored = file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var items = new List<(string, SafeTensor)>();
        var missing = new List<(string Name, string Text)>();
        foreach (var (name, tensor, dispose) in State(network))
        {
            try
            {
                if (!stored.Remove(name, out var s))
                {
                    missing.Add((name, $"'{name}' {SafeTensor.ShapeString(tensor.shape)}"));
                    continue;
                }
                if (!s.Shape.SequenceEqual(tensor.shape))
                    throw new InvalidDataException(
                        $"{path}: weight '{name}' has shape {s.ShapeText} in the file, but model '{network.Declaration.Name}' expects {SafeTensor.ShapeString(tensor.shape)}.");
                if (s.DType is not ("F32" or "F64" or "F16" or "BF16") && tensor.is_floating_point())
                    throw new InvalidDataException($"{path}: weight '{name}' is stored as {s.DType}, but the model's weight is floating point.");
                items.Add((name, s));
            }
            finally
            {
                if (dispose) tensor.Dispose();
            }
        }
        // A file from before LoRA was enabled has neither adapter weight of a layer: those keep their fresh values.
        var fresh = missing.Select(m => m.Name).Where(n => IsLoraAdapter(n, out var sibling) && missing.Any(m => m.Name == sibling)).ToHashSet();
        missing.RemoveAll(m => fresh.Contains(m.Name));
        if (missing.Count > 0)
            throw new InvalidDataException(
                $"{path}: the file lacks {missing.Count} weight(s) of model '{network.Declaration.Name}': {string.Join(", ", missing.Select(m => m.Text))}" +
                (stored.Count > 0 ? $"; it holds instead: {string.Join(", ", stored.Values.Select(s => $"'{s.Name}' {s.ShapeText}"))}." : "."));
        if (stored.Count > 0)
            throw new InvalidDataException(
                $"{path}: the file holds weights that model '{network.Declaration.Name}' does not have: {string.Join(", ", stored.Values.Select(s => $"'{s.Name}' {s.ShapeText}"))}.");
        return new LoadPlan(items, network);
    }

    // `…/lora_kernel_a` or `…/lora_kernel_b`, with the name of the other one.
    private static bool IsLoraAdapter(string name, out string sibling)
    {
        sibling = name.EndsWith("/lora_kernel_a", StringComparison.Ordinal) ? name[..^1] + "b"
            : name.EndsWith("/lora_kernel_b", StringComparison.Ordinal) ? name[..^1] + "a"
            : "";
        return sibling.Length > 0;
    }

    /// <summary>Writes the planned values into the model.</summary>
    internal static void Apply(LoadPlan plan)
    {
        var byName = plan.Items.ToDictionary(i => i.Name, i => i.Stored, StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (name, tensor, dispose) in State(plan.Network))
        {
            using var scope = NewDisposeScope();
            try
            {
                if (!byName.TryGetValue(name, out var stored)) continue;   // a LoRA adapter the file predates (see Plan)
                var value = SafeTensors.ToTensor(stored).to(tensor.dtype).to(tensor.device);
                tensor.copy_(value);
            }
            finally
            {
                if (dispose) tensor.Dispose();
            }
        }
    }
}

/// <summary>A copy of a network's weights and buffers (Keras's <c>get_weights</c>), kept on the CPU; dispose when done.</summary>
public sealed class WeightSnapshot : IDisposable
{
    private readonly List<(string Name, Tensor Value)> values;

    private WeightSnapshot(List<(string, Tensor)> values) => this.values = values;

    /// <summary>The names copied, in order.</summary>
    public IReadOnlyList<string> Names => values.Select(v => v.Name).ToList();

    /// <summary>The copied value of one weight.</summary>
    public Tensor this[string name] => values.First(v => v.Name == name).Value;

    internal static WeightSnapshot Take(BuiltNetwork network)
    {
        var list = new List<(string, Tensor)>();
        using var _ = no_grad();
        foreach (var (name, tensor, dispose) in WeightFiles.State(network))
        {
            list.Add((name, tensor.detach().cpu().clone().DetachFromDisposeScope()));
            if (dispose) tensor.Dispose();
        }
        return new WeightSnapshot(list);
    }

    internal void Restore(BuiltNetwork network)
    {
        var byName = values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (name, tensor, dispose) in WeightFiles.State(network))
        {
            try
            {
                if (!byName.TryGetValue(name, out var v) || !v.shape.SequenceEqual(tensor.shape))
                    throw new ArgumentException($"The snapshot does not match model '{network.Declaration.Name}' at weight '{name}'.");
                using var scope = NewDisposeScope();
                tensor.copy_(v.to(tensor.device));
            }
            finally
            {
                if (dispose) tensor.Dispose();
            }
        }
    }

    /// <summary>Frees the copies.</summary>
    public void Dispose()
    {
        foreach (var (_, v) in values) v.Dispose();
        values.Clear();
    }
}
