using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Functional.Torch.Building;
using Functional.Torch.Formats;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Saving;

public static partial class KerasH5
{
    /// <summary>The Keras version whose .keras layout is written (<c>metadata.json</c>'s <c>keras_version</c>): the
    /// attribute <c>name</c> on every <c>vars</c> group (Keras 3.6 and later), optimizer variables interleaved per model
    /// variable (keras-team/keras#21247).</summary>
    public const string WrittenKerasVersion = "3.15.0";

    internal static string Index(int i) => i.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Writes a .keras archive as saving_lib's <c>_save_model_to_fileobj</c> does: <c>metadata.json</c>,
    /// <c>config.json</c>, then <c>model.weights.h5</c>, stored (zipfile's default); to a temporary file next to
    /// <paramref name="path"/>, then moved over it.
    /// </summary>
    internal static void WriteArchive(string path, JsonObject config, byte[] weights)
    {
        var metadata = new JsonObject
        {
            ["keras_version"] = WrittenKerasVersion,
            ["date_saved"] = DateTime.Now.ToString("yyyy-MM-dd@HH:mm:ss", CultureInfo.InvariantCulture),
        };
        var full = Path.GetFullPath(path);
        var temporary = full + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            using (var zip = new ZipArchive(stream, ZipArchiveMode.Create))
            {
                void Entry(string name, byte[] bytes)
                {
                    using var entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                    entry.Write(bytes);
                }
                Entry("metadata.json", System.Text.Encoding.UTF8.GetBytes(metadata.ToJsonString()));
                Entry("config.json", System.Text.Encoding.UTF8.GetBytes(config.ToJsonString()));
                Entry("model.weights.h5", weights);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>An archive's <c>config.json</c> as JSON (its declared size checked first).</summary>
    internal static JsonObject ReadArchiveConfig(string path)
    {
        using var zip = OpenZip(path);
        var text = System.Text.Encoding.UTF8.GetString(ReadEntry(zip, "config.json", MaxArchiveConfigBytes, path).ToArray());
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException($"{path}: config.json is not a JSON object.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}: config.json is not valid JSON ({e.Message}).", e);
        }
    }

    /// <summary>An archive's <c>model.weights.h5</c>, in memory, as a source of object groups (dispose it).</summary>
    internal static KerasWeightsSource OpenArchiveSource(string path)
    {
        var archive = OpenArchiveWeights(path);
        try
        {
            var file = OpenStream(archive, path);
            return new KerasWeightsSource(file, path, file, archive);
        }
        catch
        {
            archive.Dispose();
            throw;
        }
    }

    /// <summary>A dataset for <paramref name="target"/>, shape checked before the data is read (see ReadFor); the mismatch otherwise.</summary>
    internal static (StoredTensor? Value, string? Mismatch) ReadChecked((string Name, Tensor Tensor, bool Dispose) target, IH5Dataset dataset, string path, string name) =>
        ReadFor(target, dataset, path, name);

    // Keras's sharded weights index (<name>.weights.json, see KerasWeightsSource.OpenSharded): JSON, not HDF5 or zip.
    private static bool IsShardIndex(string path)
    {
        if (!File.Exists(path)) return false;
        using var s = File.OpenRead(path);
        int b;
        while ((b = s.ReadByte()) is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF) { }
        return b == '{';
    }

    // Keras 3's layout, read: every object of KerasLayout's walk that owns variables has a vars group with exactly its
    // variables as datasets 0, 1, … (an object without variables may lack its group: Keras before 3.6 made none).
    private static void LoadKeras3(BuiltNetwork network, KerasWeightsSource source, string path)
    {
        var state = WeightLoading.State(network).ToList();
        var stored = new List<StoredTensor>();
        try
        {
            var byName = state.ToDictionary(s => s.Name, StringComparer.Ordinal);
            List<KerasSaveable> objects;
            try
            {
                objects = KerasLayout.Walk(network.Declaration, state.Select(s => s.Name).ToList()).Objects;
            }
            catch (NotSupportedException e)
            {
                throw new InvalidDataException($"{path}: {e.Message}", e);
            }
            foreach (var o in objects.Where(o => o.Variables.Count > 0))
            {
                var what = o.Path.Length == 0 ? $"model '{network.Declaration.Name}'" : $"'{o.Name}' ({o.Path})";
                var vars = source.Group(o.VarsPath)
                    ?? throw new InvalidDataException($"{path}: the file has no group {o.VarsPath} for {what}, which has {o.Variables.Count} variable(s) ({string.Join(", ", o.Variables)}).");
                var count = vars.Children().OfType<IH5Dataset>().Count();
                if (count != o.Variables.Count)
                    throw new InvalidDataException(
                        $"{path}: {o.VarsPath} holds {count} variable(s), but {what} has {o.Variables.Count} ({string.Join(", ", o.Variables)}).");
                for (var i = 0; i < count; i++)
                {
                    var name = $"{o.VarsPath}/{i}";
                    if (!vars.LinkExists(Index(i))) throw new InvalidDataException($"{path}: {o.VarsPath} has no dataset '{i}' (its datasets are numbered 0, 1, …).");
                    var (value, mismatch) = ReadVariable(byName[o.Variables[i]], vars.Dataset(Index(i)), path, name);
                    stored.Add(value ?? throw new InvalidDataException($"{path}: {mismatch}."));
                }
            }
            Commit(network, stored, path, requireAll: true);
        }
        catch (Exception e) when (IsForeign(e))
        {
            throw Unreadable(path, e);
        }
        finally
        {
            foreach (var s in stored) s.Value.Dispose();
            WeightLoading.Release(state);
        }
    }

    // A variable as ReadFor reads it, except bfloat16: Keras's H5IOStore writes those with the attribute dtype="bfloat16"
    // over 2-byte values (ml_dtypes.bfloat16) and reads them back by that attribute.
    private static (StoredTensor? Value, string? Mismatch) ReadVariable((string Name, Tensor Tensor, bool Dispose) target, IH5Dataset dataset, string path, string name)
    {
        if (dataset.AttributeExists("dtype") && StringAttribute(dataset, "dtype", path) == "bfloat16")
        {
            var dims = dataset.Space.Dimensions.Select(d => (long)d).ToArray();
            if (!dims.SequenceEqual(target.Tensor.shape))
                return (null, $"weight '{target.Name}' has shape {Shape(target.Tensor.shape)} in the model, but '{name}' in the file is {Shape(dims)}");
            if (dataset.Type.Size != 2) throw new InvalidDataException($"{path}: '{name}' is marked bfloat16 but holds {dataset.Type.Size}-byte values.");
            var bytes = dataset.Read<byte[]>();
            var count = dims.Aggregate(1L, (a, b) => a * b);
            if (bytes.LongLength != 2 * count) throw new InvalidDataException($"{path}: '{name}' holds {bytes.LongLength} bytes for {count} bfloat16 values.");
            var values = new float[count];
            for (var i = 0; i < values.Length; i++)
                values[i] = BitConverter.Int32BitsToSingle((bytes[2 * i] | bytes[2 * i + 1] << 8) << 16);   // little-endian, the high half of a float32
            return (new StoredTensor(target.Name, "F32", dims, torch.tensor(values, dims)), null);
        }
        return ReadFor(target, dataset, path, name);
    }

    // A scalar dataset (shape () or (1)) as a number.
    internal static double Number(IH5Dataset dataset, string path, string name, bool integer)
    {
        var dims = dataset.Space.Dimensions;
        if (dims.Aggregate(1UL, (a, b) => a * b) != 1) throw new InvalidDataException($"{path}: {name} should hold one value but has shape {Shape(dims.Select(d => (long)d))}.");
        var type = dataset.Type;
        return (type.Class, type.Size) switch
        {
            (H5DataTypeClass.FixedPoint, 8) => dataset.Read<long[]>()[0],
            (H5DataTypeClass.FixedPoint, 4) => dataset.Read<int[]>()[0],
            (H5DataTypeClass.FloatingPoint, 4) when !integer => dataset.Read<float[]>()[0],
            (H5DataTypeClass.FloatingPoint, 8) when !integer => dataset.Read<double[]>()[0],
            _ => throw new InvalidDataException($"{path}: {name} is a {type.Size}-byte {type.Class}, not {(integer ? "an integer" : "a number")}."),
        };
    }
}
