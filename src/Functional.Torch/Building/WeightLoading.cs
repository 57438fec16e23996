using Functional.Torch.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>
/// Binding stored weights to a built network by name, through each weight's declaration (its Keras name, Keras layout
/// and dtype): the plan checks every name, shape and kind of dtype before anything is written, then the values are
/// copied in. Building uses it for a declaration's weights file (Keras's <c>weights=path</c>); saving and checkpoints
/// use it for <c>LoadWeights</c> and <c>LoadCheckpoint</c>.
/// </summary>
internal static class WeightLoading
{
    /// <summary>
    /// Reads a declaration's weights file (<c>Model.WeightsFile</c>) into the network just built from it, by layer name
    /// when asked. <c>Functional.Torch.Saving</c> sets it to its <c>LoadWeights</c>, which also recognises Keras's HDF5
    /// files and <c>.keras</c> archives (building does not depend on saving); this library's safetensors otherwise.
    /// </summary>
    internal static Action<BuiltNetwork, string, bool> LoadDeclaredFile { get; set; } = (network, path, byName) => Load(network, path, byName);

    /// <summary>Keras's rule for partial loads: skipping mismatched weights is only meaningful when matching by name.</summary>
    /// <exception cref="ArgumentException"><paramref name="skipMismatch"/> without <paramref name="byName"/>.</exception>
    internal static void CheckSkipMismatch(bool byName, bool skipMismatch)
    {
        if (skipMismatch && !byName)
            throw new ArgumentException("skipMismatch=true requires byName=true (Keras: 'When passing skip_mismatch=True, by_name must be set to True.').", nameof(skipMismatch));
    }

    /// <summary>
    /// Reads a weights file (or a checkpoint's weights) into <paramref name="network"/>; see <c>WeightFiles.LoadWeights</c>.
    /// With <paramref name="byName"/> (Keras's <c>by_name=True</c>) the network's weights the file lacks keep their values
    /// and the file's weights the network lacks are ignored.
    /// </summary>
    internal static void Load(BuiltNetwork network, string path, bool byName = false, bool skipMismatch = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        using var file = SafeTensors.ReadTensors(path);
        IReadOnlyList<StoredTensor> tensors = file.Tensors;
        if (file.Metadata.TryGetValue("format", out var format) && format == "functional-checkpoint")
            tensors = tensors.Where(t => t.Name.StartsWith(CheckpointWeightPrefix, StringComparison.Ordinal))
                .Select(t => t with { Name = t.Name[CheckpointWeightPrefix.Length..] }).ToList();
        var plan = Plan(network, tensors, path, requireAll: !byName, ignoreExtra: byName, skipMismatch: skipMismatch);
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

    /// <summary>
    /// Checks names, shapes and dtypes against the model; throws before anything is written. With
    /// <paramref name="requireAll"/> false (a partial load: Keras's by-name or skip-mismatch loading) the model's weights the
    /// file lacks keep their values instead of being an error; a weight the model lacks is an error unless
    /// <paramref name="ignoreExtra"/> (a by-name load of a larger model's file); with <paramref name="skipMismatch"/> a
    /// weight whose shape differs keeps its value.
    /// </summary>
    internal static LoadPlan Plan(BuiltNetwork network, IReadOnlyList<StoredTensor> tensors, string path, bool requireAll = true,
        bool ignoreExtra = false, bool skipMismatch = false)
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
                {
                    if (skipMismatch) continue;   // the model's value stays
                    throw new InvalidDataException(
                        $"{path}: weight '{name}' has shape {s.ShapeText} in the file, but model '{network.Declaration.Name}' expects {SafeTensor.ShapeString(tensor.shape)}.");
                }
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
        if (requireAll && missing.Count > 0)
            throw new InvalidDataException(
                $"{path}: the file lacks {missing.Count} weight(s) of model '{network.Declaration.Name}': {string.Join(", ", missing.Select(m => m.Text))}" +
                (stored.Count > 0 ? $"; it holds instead: {string.Join(", ", stored.Values.Select(s => $"'{s.Name}' {s.ShapeText}"))}." : "."));
        if (stored.Count > 0 && !ignoreExtra)
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
