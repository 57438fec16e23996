using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Saving;

/// <summary>One tensor as stored: name, safetensors dtype (<c>F32</c>, …), shape and little-endian bytes.</summary>
/// <param name="Name">The key.</param>
/// <param name="DType">The safetensors dtype string.</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="Data">The raw little-endian bytes, row-major.</param>
public sealed record SafeTensor(string Name, string DType, long[] Shape, byte[] Data)
{
    /// <summary>Shape as text, e.g. <c>(3, 3, 1, 32)</c>.</summary>
    public string ShapeText => ShapeString(Shape);

    internal static string ShapeString(IReadOnlyList<long> shape) => shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
}

/// <summary>The contents of a safetensors file: its tensors (in file order) and its string metadata.</summary>
public sealed record SafeTensorsFile(IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The tensor under <paramref name="name"/>, or null.</summary>
    public SafeTensor? Find(string name) => Tensors.FirstOrDefault(t => t.Name == name);
}

/// <summary>
/// The safetensors format (a little-endian u64 header length, a JSON header, then the raw tensor bytes): plain data that
/// cannot execute code — no pickle, no BinaryFormatter. Files written here also carry the SHA-256 of the data section in
/// the metadata (<c>sha256</c>), so corruption anywhere is detected on reading. Every malformed, truncated or corrupt file
/// is rejected with an <see cref="InvalidDataException"/> that names the file and the problem.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest accepted header (the format's own limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly Dictionary<string, (int Size, ScalarType Type)> DTypes = new(StringComparer.Ordinal)
    {
        ["F64"] = (8, ScalarType.Float64),
        ["F32"] = (4, ScalarType.Float32),
        ["F16"] = (2, ScalarType.Float16),
        ["BF16"] = (2, ScalarType.BFloat16),
        ["I64"] = (8, ScalarType.Int64),
        ["I32"] = (4, ScalarType.Int32),
        ["I16"] = (2, ScalarType.Int16),
        ["I8"] = (1, ScalarType.Int8),
        ["U8"] = (1, ScalarType.Byte),
        ["BOOL"] = (1, ScalarType.Bool),
    };

    /// <summary>Writes tensors and metadata to <paramref name="path"/> (atomically: a temporary file, then a move).</summary>
    public static void Write(string path, IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in list)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"Duplicate tensor name '{t.Name}'.", nameof(tensors));
            if (!DTypes.TryGetValue(t.DType, out var info)) throw new ArgumentException($"Unsupported dtype '{t.DType}' for tensor '{t.Name}'.", nameof(tensors));
            if (Numel(t.Shape) * info.Size != t.Data.LongLength)
                throw new ArgumentException($"Tensor '{t.Name}': shape {t.ShapeText} of {t.DType} needs {Numel(t.Shape) * info.Size} bytes; got {t.Data.LongLength}.", nameof(tensors));
        }
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (var t in list) sha.AppendData(t.Data);
            meta["sha256"] = Convert.ToHexStringLower(sha.GetHashAndReset());
        }
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in meta) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var t in list)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.LongLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.LongLength;
            }
            w.WriteEndObject();
        }
        var header = json.ToArray();
        var padded = (header.Length + 7) / 8 * 8;   // the format recommends 8-byte alignment, padded with spaces
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        using (var file = File.Create(temp))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            file.Write(len);
            file.Write(header);
            for (var i = header.Length; i < padded; i++) file.WriteByte((byte)' ');
            foreach (var t in list) file.Write(t.Data);
        }
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Reads and validates a file.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Truncated, corrupt or not a safetensors file; the message says what is wrong.</exception>
    public static SafeTensorsFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights file at '{path}'.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses and validates the bytes of a file; <paramref name="name"/> is used in messages.</summary>
    public static SafeTensorsFile Parse(byte[] bytes, string name)
    {
        if (bytes.Length < 8)
            throw Bad(name, $"truncated: the file has {bytes.Length} bytes, fewer than the 8-byte header length that starts a safetensors file.");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes)
            throw Bad(name, $"not a safetensors file, or corrupt: the header length field says {headerLength} bytes (the limit is {MaxHeaderBytes}).");
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Bad(name, $"truncated: the header should be {headerLength} bytes but only {bytes.Length - 8} bytes follow the length field.");
        var headerBytes = bytes.AsSpan(8, (int)headerLength);
        if (headerBytes.Length == 0 || headerBytes[0] != (byte)'{')
            throw Bad(name, "corrupt header: it does not start with '{' (not a safetensors JSON header).");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Bad(name, $"corrupt header: not valid JSON ({e.Message}).");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(name, "corrupt header: the JSON header is not an object.");
            var dataStart = 8 + (long)headerLength;
            var dataLength = bytes.LongLength - dataStart;
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<(string Name, string DType, long[] Shape, long Begin, long End)>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(name, "corrupt header: __metadata__ is not an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()!
                            : throw Bad(name, $"corrupt header: metadata entry '{m.Name}' is not a string.");
                    continue;
                }
                entries.Add(Entry(prop, name));
            }
            foreach (var e in entries)
            {
                if (e.End > dataLength)
                    throw Bad(name, $"truncated: tensor '{e.Name}' needs bytes {e.Begin}..{e.End} of the data section, but it holds only {dataLength} bytes.");
            }
            // The format requires the tensors to tile the data section exactly: no gaps, no overlaps, nothing after.
            long expected = 0;
            foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (e.Begin != expected)
                    throw Bad(name, e.Begin > expected
                        ? $"corrupt: a gap in the data section before tensor '{e.Name}' (bytes {expected}..{e.Begin} belong to no tensor)."
                        : $"corrupt: tensor '{e.Name}' overlaps another tensor's bytes (it starts at {e.Begin}, before {expected}).");
                expected = e.End;
            }
            if (expected != dataLength)
                throw Bad(name, $"corrupt: {dataLength - expected} bytes after the last tensor belong to no tensor (the file was appended to or is damaged).");
            if (metadata.TryGetValue("sha256", out var recorded))
            {
                var actual = Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan((int)dataStart)));
                if (!string.Equals(actual, recorded, StringComparison.OrdinalIgnoreCase))
                    throw Bad(name, $"corrupt: the data section's SHA-256 is {actual}, but the file records {recorded} (the tensor bytes were changed or damaged).");
            }
            var tensors = entries.Select(e => new SafeTensor(e.Name, e.DType, e.Shape,
                bytes.AsSpan((int)(dataStart + e.Begin), (int)(e.End - e.Begin)).ToArray())).ToList();
            return new SafeTensorsFile(tensors, metadata);
        }
    }

    private static (string, string, long[], long, long) Entry(JsonProperty prop, string file)
    {
        var tensor = prop.Name;
        if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(file, $"corrupt header: the entry for tensor '{tensor}' is not an object.");
        if (!prop.Value.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has no dtype.");
        var dtype = dt.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var info))
            throw Bad(file, $"tensor '{tensor}' has dtype '{dtype}', which is not supported (supported: {string.Join(", ", DTypes.Keys)}).");
        if (!prop.Value.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has no shape.");
        var shape = new List<long>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw Bad(file, $"corrupt header: tensor '{tensor}' has a dimension that is not a non-negative integer ({d.GetRawText()}).");
            shape.Add(v);
        }
        if (!prop.Value.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has no [begin, end] data_offsets.");
        var o = off.EnumerateArray().ToArray();
        if (!o[0].TryGetInt64(out var begin) || !o[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has invalid data_offsets {off.GetRawText()}.");
        long numel;
        try { numel = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * info.Size); }
        catch (OverflowException) { throw Bad(file, $"corrupt header: tensor '{tensor}' has an impossibly large shape."); }
        if (end - begin != numel)
            throw Bad(file, $"corrupt header: tensor '{tensor}' of shape {SafeTensor.ShapeString(shape)} and dtype {dtype} needs {numel} bytes, but its data_offsets span {end - begin}.");
        return (tensor, dtype, shape.ToArray(), begin, end);
    }

    private static InvalidDataException Bad(string file, string problem) => new($"{file}: {problem}");

    private static long Numel(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Copies a tensor's values (any device) into a safetensors record.</summary>
    public static SafeTensor FromTensor(string name, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var t = tensor.detach().cpu().contiguous();
        var (dtype, bytes) = t.dtype switch
        {
            ScalarType.Float32 => ("F32", MemoryMarshal.AsBytes(t.data<float>().ToArray().AsSpan()).ToArray()),
            ScalarType.Float64 => ("F64", MemoryMarshal.AsBytes(t.data<double>().ToArray().AsSpan()).ToArray()),
            ScalarType.Int64 => ("I64", MemoryMarshal.AsBytes(t.data<long>().ToArray().AsSpan()).ToArray()),
            ScalarType.Int32 => ("I32", MemoryMarshal.AsBytes(t.data<int>().ToArray().AsSpan()).ToArray()),
            ScalarType.Int16 => ("I16", MemoryMarshal.AsBytes(t.data<short>().ToArray().AsSpan()).ToArray()),
            ScalarType.Int8 => ("I8", MemoryMarshal.AsBytes(t.data<sbyte>().ToArray().AsSpan()).ToArray()),
            ScalarType.Byte => ("U8", t.data<byte>().ToArray()),
            ScalarType.Bool => ("BOOL", t.data<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray()),
            // Half precision is widened to F32 (exact); loading casts back to the weight's type.
            ScalarType.Float16 or ScalarType.BFloat16 => ("F32", MemoryMarshal.AsBytes(t.to_type(ScalarType.Float32).data<float>().ToArray().AsSpan()).ToArray()),
            _ => throw new NotSupportedException($"Tensor '{name}': dtype {t.dtype} cannot be saved as safetensors."),
        };
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors files are little-endian; this platform is not.");
        return new SafeTensor(name, dtype, t.shape.ToArray(), bytes);
    }

    /// <summary>Makes a CPU tensor from a stored record (its own dtype).</summary>
    public static Tensor ToTensor(SafeTensor stored)
    {
        var shape = stored.Shape;
        var d = stored.Data;
        return stored.DType switch
        {
            "F32" => torch.tensor(MemoryMarshal.Cast<byte, float>(d).ToArray(), shape),
            "F64" => torch.tensor(MemoryMarshal.Cast<byte, double>(d).ToArray(), shape),
            "I64" => torch.tensor(MemoryMarshal.Cast<byte, long>(d).ToArray(), shape),
            "I32" => torch.tensor(MemoryMarshal.Cast<byte, int>(d).ToArray(), shape),
            "I16" => torch.tensor(MemoryMarshal.Cast<byte, short>(d).ToArray(), shape),
            "I8" => torch.tensor(MemoryMarshal.Cast<byte, sbyte>(d).ToArray(), shape),
            "U8" => torch.tensor(d, shape),
            "BOOL" => torch.tensor(d.Select(b => b != 0).ToArray(), shape),
            "F16" => torch.tensor(MemoryMarshal.Cast<byte, ushort>(d).ToArray().Select(b => (float)BitConverter.UInt16BitsToHalf(b)).ToArray(), shape),
            "BF16" => torch.tensor(MemoryMarshal.Cast<byte, ushort>(d).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray(), shape),
            _ => throw new InvalidDataException($"Tensor '{stored.Name}': unsupported dtype '{stored.DType}'."),
        };
    }

    /// <summary>UTF-8 text helper for metadata values.</summary>
    internal static string Text(byte[] b) => Encoding.UTF8.GetString(b);
}
