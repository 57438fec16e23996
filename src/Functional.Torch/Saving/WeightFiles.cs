using Functional.Torch.Building;
using Functional.Torch.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Saving;

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
        var state = WeightLoading.State(network).ToList();
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
            WeightLoading.Release(state);
        }
    }

    /// <summary>
    /// Keras's <c>model.load_weights(path)</c>: reads weights saved by <see cref="SaveWeights"/> (or a checkpoint's
    /// weights) into <paramref name="network"/>; a Keras HDF5 file or <c>.keras</c> archive (recognised by its content) is
    /// read as Keras reads it (<see cref="KerasH5.LoadKerasWeights"/>). With <paramref name="byName"/> weights are matched
    /// by layer name: the network's layers the file lacks keep their values and the file's other layers are ignored; with
    /// <paramref name="skipMismatch"/> too, a weight whose shape differs is left as it is instead of failing (Keras's
    /// <c>by_name=True, skip_mismatch=True</c>, e.g. a new classifier head over a pretrained body).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="ArgumentException"><paramref name="skipMismatch"/> without <paramref name="byName"/>, as Keras.</exception>
    /// <exception cref="InvalidDataException">Truncated or corrupt, or the weights do not match the model (named in the message); the model is unchanged.</exception>
    public static void LoadWeights(this BuiltNetwork network, string path, bool byName = false, bool skipMismatch = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        WeightLoading.CheckSkipMismatch(byName, skipMismatch);
        // Keras's formats are recognised by content: an HDF5 file or a .keras (zip) archive.
        if (File.Exists(path) && (KerasH5.IsHdf5(path) || KerasH5.IsZip(path))) network.LoadKerasWeights(path, byName, skipMismatch);
        else WeightLoading.Load(network, path, byName, skipMismatch);
    }

#pragma warning disable CA2255 // Building cannot reference saving; saving gives it this reader when the assembly loads.
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void RegisterFormats() => WeightLoading.LoadDeclaredFile = (network, path, byName) => network.LoadWeights(path, byName);
#pragma warning restore CA2255
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
        foreach (var (name, tensor, dispose) in WeightLoading.State(network))
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
        foreach (var (name, tensor, dispose) in WeightLoading.State(network))
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
