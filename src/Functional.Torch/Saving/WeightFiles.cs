using Functional.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Saving;

/// <summary>
/// Saving and loading a built network's weights as safetensors. Keys are Keras's weight paths (<c>conv2d/kernel</c>,
/// <c>dense/bias</c>, plus non-trainable buffers such as moving statistics) and values are in Keras's layout
/// (a Conv2D kernel is <c>(kh, kw, in, out)</c>), so files read naturally next to Keras's. Saving streams each weight to the
/// file (no 2 GiB limit; see <see cref="SafeTensors"/> for the integrity record and the temporary file). Loading reads and
/// checks the whole file — its integrity, and every name, shape and kind of dtype against the model — before changing
/// anything: a corrupt file, or a missing, extra or differently shaped weight, is rejected naming it and the model is left
/// as it was — except a LoRA layer's <c>lora_kernel_a</c> and <c>lora_kernel_b</c> when the file has neither (it was saved
/// before LoRA was enabled): they keep their fresh values (he_uniform and zeros), which is Keras's
/// load-weights-then-<c>enable_lora</c>.
/// </summary>
public static class WeightFiles
{
    /// <summary>Writes every weight and buffer of <paramref name="network"/> to a safetensors file.</summary>
    public static void SaveWeights(this BuiltNetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        using var reading = network.ReadLease();   // a consistent set: no step or load runs meanwhile
        var state = State(network).ToList();
        try
        {
            SafeTensors.WriteTensors(path, state.Select(s => (s.Name, s.Tensor)), new Dictionary<string, string>
            {
                ["format"] = "functional-weights",
                ["model"] = network.Declaration.Name,
            });
        }
        finally
        {
            Release(state);
        }
    }

    /// <summary>Reads weights saved by <see cref="SaveWeights"/> (or a checkpoint's weights) into <paramref name="network"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Truncated or corrupt, or the weights do not match the model (named in the message); the model is unchanged.</exception>
    public static void LoadWeights(this BuiltNetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        using var file = SafeTensors.ReadTensors(path);
        IReadOnlyList<StoredTensor> tensors = file.Tensors;
        if (file.Metadata.TryGetValue("format", out var format) && format == "functional-checkpoint")
            tensors = tensors.Where(t => t.Name.StartsWith(CheckpointWeightPrefix, StringComparison.Ordinal))
                .Select(t => t with { Name = t.Name[CheckpointWeightPrefix.Length..] }).ToList();
        var plan = Plan(network, tensors, path);
        using var writing = network.WriteLease();   // no call sees half-loaded weights
        Apply(plan);
    }

    /// <summary>The prefix of a weight's name in a checkpoint.</summary>
    internal const string CheckpointWeightPrefix = "weights/";

    /// <summary>Every weight (as its Keras-layout view, to be disposed) and buffer of the network.</summary>
    internal static IEnumerable<(string Name, Tensor Tensor, bool Dispose)> State(BuiltNetwork network)
    {
        foreach (var w in network.Weights)
            yield return (w.Name, w.KerasView(), true);
        foreach (var layer in network.BuiltLayers)
            foreach (var (name, buffer) in layer.KerasBuffers())
                yield return ($"{layer.Layer.Name ?? layer.Layer.DefaultNameStem}/{name}", buffer, false);
    }

    /// <summary>Disposes the views that <see cref="State"/> made.</summary>
    internal static void Release(IEnumerable<(string Name, Tensor Tensor, bool Dispose)> state)
    {
        foreach (var (_, tensor, dispose) in state)
            if (dispose) tensor.Dispose();
    }

    internal sealed record LoadPlan(List<(string Name, StoredTensor Stored)> Items, BuiltNetwork Network);

    /// <summary>Checks names, shapes and dtypes against the model; throws before anything is written.</summary>
    internal static LoadPlan Plan(BuiltNetwork network, IReadOnlyList<StoredTensor> tensors, string path)
    {
        var stored = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        foreach (var t in tensors)
            if (!stored.TryAdd(t.Name, t)) throw new InvalidDataException($"{path}: the file holds weight '{t.Name}' twice.");
        var items = new List<(string, StoredTensor)>();
        var missing = new List<(string Name, string Text)>();
        var state = State(network).ToList();
        try
        {
            foreach (var (name, tensor, _) in state)
            {
                if (!stored.Remove(name, out var s))
                {
                    missing.Add((name, $"'{name}' {SafeTensor.ShapeString(tensor.shape)}"));
                    continue;
                }
                if (!s.Shape.SequenceEqual(tensor.shape))
                    throw new InvalidDataException(
                        $"{path}: weight '{name}' has shape {s.ShapeText} in the file, but model '{network.Declaration.Name}' expects {SafeTensor.ShapeString(tensor.shape)}.");
                if (SafeTensors.IsFloat(s.DType) != tensor.is_floating_point())
                    throw new InvalidDataException(
                        $"{path}: weight '{name}' is stored as {s.DType}, but the model's is {tensor.dtype} ({(tensor.is_floating_point() ? "floating point" : "not floating point")}).");
                items.Add((name, s));
            }
        }
        finally
        {
            Release(state);
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
        var state = State(plan.Network).ToList();
        try
        {
            foreach (var (name, tensor, _) in state)
            {
                if (!byName.TryGetValue(name, out var stored)) continue;   // a LoRA adapter the file predates (see Plan)
                // copy_ converts the dtype and crosses devices itself: no second copy of the value.
                using var scope = NewDisposeScope();
                tensor.copy_(stored.Value);
            }
        }
        finally
        {
            Release(state);
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
        using var reading = network.ReadLease();
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
        using var writing = network.WriteLease();   // no call sees half-restored weights
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
