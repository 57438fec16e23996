using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Formats;

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

/// <summary>The contents of a safetensors file: its tensors (in header order) and its string metadata.</summary>
public sealed record SafeTensorsFile(IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The tensor under <paramref name="name"/>, or null.</summary>
    public SafeTensor? Find(string name) => Tensors.FirstOrDefault(t => t.Name == name);
}

/// <summary>One tensor of a file read by <see cref="SafeTensors.ReadTensors"/>: its stored name, dtype and shape, and its values as a CPU tensor (owned by the <see cref="TensorFile"/>).</summary>
/// <param name="Name">The key.</param>
/// <param name="DType">The safetensors dtype string.</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="Value">The values, a CPU tensor of the stored dtype; freed when the file is disposed.</param>
public sealed record StoredTensor(string Name, string DType, long[] Shape, Tensor Value)
{
    /// <summary>Shape as text, e.g. <c>(3, 3, 1, 32)</c>.</summary>
    public string ShapeText => SafeTensor.ShapeString(Shape);
}

/// <summary>A safetensors file read into CPU tensors (no 2 GiB limit): its tensors in header order and its metadata. Dispose to free the tensors.</summary>
public sealed class TensorFile : IDisposable
{
    private readonly List<StoredTensor> tensors;

    internal TensorFile(string path, List<StoredTensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The tensors, in header order.</summary>
    public IReadOnlyList<StoredTensor> Tensors => tensors;

    /// <summary>The <c>__metadata__</c> strings (including the integrity record, when the file has one).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor under <paramref name="name"/>, or null.</summary>
    public StoredTensor? Find(string name) => tensors.FirstOrDefault(t => t.Name == name);

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        foreach (var t in tensors) t.Value.Dispose();
        tensors.Clear();
    }
}

/// <summary>
/// The safetensors format (a little-endian u64 header length, a JSON header, then the raw tensor bytes): plain data that
/// cannot execute code — no pickle, no BinaryFormatter.
/// <para>
/// <b>Integrity.</b> Files written here record <c>"integrity": "sha256:&lt;64 hex digits&gt;"</c> in their metadata: the
/// SHA-256 of a canonical form of the header — every other metadata entry, and every tensor's name, dtype, shape and data
/// offsets — followed by the whole data section. So a changed byte anywhere is detected on reading: in the data, in a
/// metadata value, in a shape, or two tensors' entries swapped in the header. The canonical form, all integers
/// little-endian, strings as a u32 byte count and their UTF-8 bytes: the ASCII line <c>functional-safetensors-integrity/1\n</c>;
/// a u64 count and, in ordinal key order, each metadata key and value (all but <c>integrity</c>); a u64 count and, in data
/// order (by begin offset, then end, then name), each tensor's name, dtype, a u32 rank, its i64 dimensions and its i64 begin
/// and end offsets; the u64 length of the data section; then the data section itself.
/// </para>
/// <para>
/// Files written by earlier versions record <c>"sha256"</c>, the SHA-256 of the data section alone: they are still read,
/// with that check only (their header is not covered; saving again upgrades them). Files from other tools carry neither and
/// are read with the format's structural checks only.
/// </para>
/// <para>
/// <b>Rejection.</b> Every malformed, truncated or corrupt file is rejected with an <see cref="InvalidDataException"/> that
/// names the file and the problem: a header length beyond the file or the 100 MB limit, a header that is not UTF-8 JSON,
/// duplicate keys, a dtype, shape or offset of the wrong kind, offsets that disagree with the dtype and shape, leave gaps,
/// overlap or run past the data, bytes after the last tensor, a failed integrity check.
/// </para>
/// <para>
/// <b>Saving</b> streams: each tensor is copied to the file in 1 MiB chunks (extra memory: one chunk and, for a tensor
/// that is not a contiguous CPU tensor, one contiguous CPU copy of it), written to <c>&lt;path&gt;.tmp-&lt;guid&gt;</c>,
/// flushed to disk, then renamed over the target; a failed save deletes its temporary file, and each save
/// removes the temporary files of its target that a killed save left behind. <b>Loading</b> streams the file into CPU
/// tensors (memory: the file's data, not twice it) and checks the integrity before anything uses them. Neither has a
/// 2 GiB limit.
/// </para>
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest accepted header (the format's own limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The metadata key of the integrity record (<c>sha256:</c> and the hash of the canonical header and the data).</summary>
    public const string IntegrityKey = "integrity";

    /// <summary>The metadata key of earlier versions' integrity record: the SHA-256 of the data section only.</summary>
    public const string LegacyDataHashKey = "sha256";

    private const string MetadataEntry = "__metadata__";
    private const string IntegrityScheme = "sha256:";
    private const string CanonicalTag = "functional-safetensors-integrity/1\n";
    private const int ChunkBytes = 1 << 20;
    private const string TempInfix = ".tmp-";

    /// <summary>A temporary file of a save is removed by a later save once it is this old and no process holds it open.</summary>
    internal static readonly TimeSpan StaleTempAge = TimeSpan.FromSeconds(30);

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

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

    /// <summary>Whether <paramref name="dtype"/> is a floating-point safetensors dtype.</summary>
    internal static bool IsFloat(string dtype) => dtype is "F64" or "F32" or "F16" or "BF16";

    // ------------------------------------------------------------------------------------------------ writing

    private delegate void ChunkSink(ReadOnlySpan<byte> chunk);

    private sealed record Item(string Name, string DType, long[] Shape, long Length, Action<ChunkSink> Emit);

    private sealed record Entry(string Name, string DType, long[] Shape, long Begin, long End)
    {
        public long Length => End - Begin;
    }

    /// <summary>Writes tensors and metadata to <paramref name="path"/> (atomically: a temporary file, flushed, then renamed).</summary>
    /// <exception cref="ArgumentException">A duplicate or reserved name, an unsupported dtype, or data whose length disagrees with the shape.</exception>
    public static void Write(string path, IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var items = new List<Item>();
        foreach (var t in tensors)
        {
            if (t is null) throw new ArgumentException("A tensor is null.", nameof(tensors));
            ArgumentNullException.ThrowIfNull(t.Data, nameof(tensors));
            if (!DTypes.TryGetValue(t.DType, out var info)) throw new ArgumentException($"Unsupported dtype '{t.DType}' for tensor '{t.Name}'.", nameof(tensors));
            var needed = ByteLength(t.Shape, info.Size) ?? throw new ArgumentException($"Tensor '{t.Name}': shape {t.ShapeText} is impossibly large.", nameof(tensors));
            if (needed != t.Data.LongLength)
                throw new ArgumentException($"Tensor '{t.Name}': shape {t.ShapeText} of {t.DType} needs {needed} bytes; got {t.Data.LongLength}.", nameof(tensors));
            var data = t.Data;
            items.Add(new Item(t.Name, t.DType, t.Shape.ToArray(), data.LongLength, sink =>
            {
                for (var o = 0; o < data.Length; o += ChunkBytes) sink(data.AsSpan(o, Math.Min(ChunkBytes, data.Length - o)));
            }));
        }
        WriteItems(path, items, metadata, nameof(tensors));
    }

    /// <summary>
    /// Writes tensors (any device, any layout) and metadata to <paramref name="path"/>, streaming each tensor's values to the
    /// file in chunks (atomically: a temporary file, flushed, then renamed). Half-precision tensors are stored widened to
    /// <c>F32</c> (exact).
    /// </summary>
    /// <exception cref="ArgumentException">A duplicate or reserved name.</exception>
    /// <exception cref="NotSupportedException">A dtype safetensors cannot hold (complex, …).</exception>
    public static void WriteTensors(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var items = new List<Item>();
        foreach (var (name, value) in tensors)
        {
            if (value is null) throw new ArgumentException($"Tensor '{name}' is null.", nameof(tensors));
            var (dtype, stored) = StoredType(name, value.dtype);
            var shape = value.shape;
            var length = ByteLength(shape, DTypes[dtype].Size) ?? throw new ArgumentException($"Tensor '{name}' is impossibly large.", nameof(tensors));
            items.Add(new Item(name, dtype, shape, length, sink => EmitTensor(value, stored, sink)));
        }
        WriteItems(path, items, metadata, nameof(tensors));
    }

    private static (string DType, ScalarType Stored) StoredType(string name, ScalarType type) => type switch
    {
        ScalarType.Float32 => ("F32", type),
        ScalarType.Float64 => ("F64", type),
        ScalarType.Int64 => ("I64", type),
        ScalarType.Int32 => ("I32", type),
        ScalarType.Int16 => ("I16", type),
        ScalarType.Int8 => ("I8", type),
        ScalarType.Byte => ("U8", type),
        ScalarType.Bool => ("BOOL", type),
        // Half precision is widened to F32 (exact); loading casts back to the weight's type.
        ScalarType.Float16 or ScalarType.BFloat16 => ("F32", ScalarType.Float32),
        _ => throw new NotSupportedException($"Tensor '{name}': dtype {type} cannot be saved as safetensors."),
    };

    /// <summary>
    /// Copies a tensor's values (any device, dtype or strides) to <paramref name="sink"/> in row-major order, in chunks of
    /// about <see cref="ChunkBytes"/>: a contiguous CPU tensor of the stored dtype directly from its memory; any other in
    /// blocks along its leading dimensions, each converted and copied to the CPU on its own (extra memory: one block).
    /// </summary>
    private static void EmitTensor(Tensor tensor, ScalarType stored, ChunkSink sink)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors files are little-endian; this platform is not.");
        using var scope = NewDisposeScope();
        EmitBlocks(tensor.detach(), stored, sink);
    }

    private static void EmitBlocks(Tensor t, ScalarType stored, ChunkSink sink)
    {
        var n = t.numel();
        if (n == 0) return;
        if (t.device_type == DeviceType.CPU && t.dtype == stored && t.is_contiguous())
        {
            EmitContiguous(t.reshape(-1), sink);
            return;
        }
        if (t.dim() == 0)
        {
            EmitContiguous(t.to_type(stored).cpu().contiguous().reshape(-1), sink);
            return;
        }
        var size = DTypes[StoredType("", stored).DType].Size;
        var rows = t.shape[0];
        var rowBytes = n / rows * size;
        if (rowBytes > ChunkBytes && t.dim() > 1)
        {
            for (long i = 0; i < rows; i++)
                using (NewDisposeScope())
                    EmitBlocks(t.select(0, i), stored, sink);
            return;
        }
        var per = Math.Max(1, ChunkBytes / rowBytes);
        for (long i = 0; i < rows; i += per)
            using (NewDisposeScope())
                EmitContiguous(t.narrow(0, i, Math.Min(per, rows - i)).to_type(stored).cpu().contiguous().reshape(-1), sink);
    }

    /// <summary>Gives the memory of a flat contiguous CPU tensor to <paramref name="sink"/> in chunks.</summary>
    private static void EmitContiguous(Tensor flat, ChunkSink sink)
    {
        var n = flat.numel();
        var per = Math.Max(1, ChunkBytes / flat.element_size());
        for (long start = 0; start < n; start += per)
        {
            using var part = flat.narrow(0, start, Math.Min(per, n - start));
            sink(part.bytes);
        }
    }

    private static void WriteItems(string path, List<Item> items, IReadOnlyDictionary<string, string>? metadata, string argument)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in items)
        {
            if (t.Name is null) throw new ArgumentException("A tensor has no name.", argument);
            if (t.Name == MetadataEntry) throw new ArgumentException($"'{MetadataEntry}' is reserved by the format; it cannot name a tensor.", argument);
            if (!names.Add(t.Name)) throw new ArgumentException($"Duplicate tensor name '{t.Name}'.", argument);
            CheckText(t.Name, "tensor name", argument);
        }
        var meta = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
            foreach (var (k, v) in metadata)
            {
                // The integrity records describe a file; a new file gets its own.
                if (k is IntegrityKey or LegacyDataHashKey) continue;
                if (k is null || v is null) throw new ArgumentException("Metadata keys and values must not be null.", nameof(metadata));
                CheckText(k, "metadata key", nameof(metadata));
                CheckText(v, $"metadata value of '{k}'", nameof(metadata));
                meta[k] = v;
            }
        var entries = new List<Entry>(items.Count);
        long offset = 0;
        foreach (var t in items)
        {
            entries.Add(new Entry(t.Name, t.DType, t.Shape, offset, checked(offset + t.Length)));
            offset += t.Length;
        }
        var canonical = Canonical(meta, entries, offset);
        var placeholder = IntegrityScheme + new string('0', 64);
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject(MetadataEntry);
            w.WriteString(IntegrityKey, placeholder);   // first, so its position in the header is found below
            foreach (var (k, v) in meta) w.WriteString(k, v);
            w.WriteEndObject();
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType);
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(e.Begin);
                w.WriteNumberValue(e.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var header = json.ToArray();
        var padded = (header.Length + 7) / 8 * 8;   // the format recommends 8-byte alignment, padded with spaces
        if (padded > MaxHeaderBytes)
            throw new ArgumentException($"The header would be {padded} bytes, more than the format's limit of {MaxHeaderBytes}: too many tensors or too much metadata.", argument);
        var hashAt = 8 + header.AsSpan().IndexOf(Encoding.ASCII.GetBytes(placeholder)) + IntegrityScheme.Length;

        var full = Path.GetFullPath(path);
        RemoveStaleTemporaries(full);
        var temp = full + TempInfix + Guid.NewGuid().ToString("N");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                sha.AppendData(canonical);
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
                file.Write(len);
                var head = new byte[padded];
                header.CopyTo(head, 0);
                head.AsSpan(header.Length).Fill((byte)' ');
                file.Write(head);
                foreach (var t in items)
                {
                    long written = 0;
                    t.Emit(chunk =>
                    {
                        file.Write(chunk);
                        sha.AppendData(chunk);
                        written += chunk.Length;
                    });
                    if (written != t.Length)
                        throw new InvalidOperationException($"Tensor '{t.Name}' produced {written} bytes while being saved; {t.Length} were expected (it changed during the save).");
                }
                var digest = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(sha.GetHashAndReset()));
                file.Position = hashAt;
                file.Write(digest);
                file.Flush(flushToDisk: true);
            }
            try
            {
                File.Move(temp, full, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"{full}: could not put the saved file in place ({e.Message}).", e);
            }
        }
        finally
        {
            if (File.Exists(temp)) TryDelete(temp);
        }
    }

    /// <summary>
    /// Removes <c>&lt;target&gt;.tmp-&lt;32 hex digits&gt;</c> files left by saves that were killed: those older than
    /// <see cref="StaleTempAge"/> that no process holds open (a save in progress holds its file exclusively).
    /// </summary>
    internal static void RemoveStaleTemporaries(string fullTarget)
    {
        var dir = Path.GetDirectoryName(fullTarget);
        if (dir is null || !Directory.Exists(dir)) return;
        var prefix = Path.GetFileName(fullTarget) + TempInfix;
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(dir, "*" + TempInfix + "*").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var f in candidates)
        {
            var name = Path.GetFileName(f);
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var suffix = name.AsSpan(prefix.Length);
            if (suffix.Length != 32 || !IsHex(suffix)) continue;
            try
            {
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(f) < StaleTempAge) continue;
                // Exclusive open fails while a running save holds the file.
                using (new FileStream(f, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
                File.Delete(f);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use, or not ours to remove: leave it.
            }
        }
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
            if (!char.IsAsciiHexDigit(c)) return false;
        return true;
    }

    private static void CheckText(string s, string what, string argument)
    {
        if (!IsValidText(s)) throw new ArgumentException($"The {what} '{s}' is not valid Unicode text (a lone surrogate).", argument);
    }

    private static bool IsValidText(string s)
    {
        try
        {
            StrictUtf8.GetByteCount(s);
            return true;
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>The canonical form of the header that the integrity hash covers, before the data (see the class remarks).</summary>
    private static byte[] Canonical(IEnumerable<KeyValuePair<string, string>> metadata, IEnumerable<Entry> entries, long dataLength)
    {
        using var ms = new MemoryStream();
        var n = new byte[8];
        void U32(int v) { BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)v); ms.Write(n, 0, 4); }
        void I64(long v) { BinaryPrimitives.WriteInt64LittleEndian(n, v); ms.Write(n); }
        void Text(string s) { var b = StrictUtf8.GetBytes(s); U32(b.Length); ms.Write(b); }
        ms.Write(Encoding.ASCII.GetBytes(CanonicalTag));
        var meta = metadata.Where(kv => kv.Key != IntegrityKey).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        I64(meta.Count);
        foreach (var (k, v) in meta) { Text(k); Text(v); }
        var ordered = InDataOrder(entries).ToList();
        I64(ordered.Count);
        foreach (var e in ordered)
        {
            Text(e.Name);
            Text(e.DType);
            U32(e.Shape.Length);
            foreach (var d in e.Shape) I64(d);
            I64(e.Begin);
            I64(e.End);
        }
        I64(dataLength);
        return ms.ToArray();
    }

    private static IEnumerable<Entry> InDataOrder(IEnumerable<Entry> entries) =>
        entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ThenBy(e => e.Name, StringComparer.Ordinal);

    private static long? ByteLength(IReadOnlyList<long> shape, int elementSize)
    {
        try
        {
            long n = elementSize;
            foreach (var d in shape)
            {
                if (d < 0) return null;
                n = checked(n * d);
            }
            return n;
        }
        catch (OverflowException) { return null; }
    }

    // ------------------------------------------------------------------------------------------------ reading

    private sealed record Header(List<Entry> Entries, List<Entry> ByOffset, Dictionary<string, string> Metadata, long DataLength);

    private delegate void ChunkTarget(ReadOnlySpan<byte> chunk, long offsetInTensor);

    /// <summary>Reads and validates a file into byte arrays (one tensor at most ~2 GiB; use <see cref="ReadTensors"/> for larger ones).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Truncated, corrupt or not a safetensors file; the message names the file and says what is wrong.</exception>
    /// <exception cref="NotSupportedException">A tensor larger than a byte array can hold.</exception>
    public static SafeTensorsFile Read(string path)
    {
        using var file = Open(path);
        return ReadArrays(file, file.Length, path);
    }

    /// <summary>Parses and validates the bytes of a file; <paramref name="name"/> is used in messages.</summary>
    /// <exception cref="InvalidDataException">Truncated, corrupt or not a safetensors file; the message names it and says what is wrong.</exception>
    public static SafeTensorsFile Parse(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        return ReadArrays(stream, bytes.LongLength, name);
    }

    /// <summary>
    /// Reads and validates a file into CPU tensors of the stored dtypes, streaming (no 2 GiB limit; memory: the data
    /// itself). The integrity is checked before the tensors are returned. Dispose the result to free them.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Truncated, corrupt or not a safetensors file; the message names the file and says what is wrong.</exception>
    public static TensorFile ReadTensors(string path)
    {
        using var file = Open(path);
        var header = ReadHeader(file, file.Length, path);
        var staged = new Dictionary<Entry, Tensor>(ReferenceEqualityComparer.Instance);
        try
        {
            using (var scope = NewDisposeScope())
            {
                ReadData(file, header, path, e =>
                {
                    var (size, type) = DTypes[e.DType];
                    // Bytes are staged as U8 for BOOL: only 0 and 1 are valid bool bytes, so the values are converted below.
                    var t = torch.empty(e.Shape, type == ScalarType.Bool ? ScalarType.Byte : type).DetachFromDisposeScope();
                    staged[e] = t;
                    var flat = t.reshape(-1);
                    return (chunk, offset) =>
                    {
                        using var part = flat.narrow(0, offset / size, chunk.Length / size);
                        chunk.CopyTo(part.bytes);
                    };
                });
                foreach (var e in header.Entries.Where(e => e.DType == "BOOL"))
                {
                    var bytes = staged[e];
                    staged[e] = bytes.ne(0).DetachFromDisposeScope();
                    bytes.Dispose();
                }
            }
            var tensors = header.Entries.Select(e => new StoredTensor(e.Name, e.DType, e.Shape, staged[e])).ToList();
            return new TensorFile(path, tensors, header.Metadata);
        }
        catch
        {
            foreach (var t in staged.Values) t.Dispose();
            throw;
        }
    }

    private static FileStream Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights file at '{path}'.", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
    }

    private static SafeTensorsFile ReadArrays(Stream stream, long length, string name)
    {
        var header = ReadHeader(stream, length, name);
        foreach (var e in header.Entries)
            if (e.Length > Array.MaxLength)
                throw new NotSupportedException($"{name}: tensor '{e.Name}' holds {e.Length} bytes, more than one byte array can; read the file with SafeTensors.ReadTensors (or LoadWeights).");
        var arrays = new Dictionary<Entry, byte[]>(ReferenceEqualityComparer.Instance);
        ReadData(stream, header, name, e =>
        {
            var a = new byte[e.Length];
            arrays[e] = a;
            return (chunk, offset) => chunk.CopyTo(a.AsSpan((int)offset));
        });
        var tensors = header.Entries.Select(e => new SafeTensor(e.Name, e.DType, e.Shape, arrays[e])).ToList();
        return new SafeTensorsFile(tensors, header.Metadata);
    }

    /// <summary>Reads the length field and the JSON header and checks the structure (nothing of the data is read yet).</summary>
    private static Header ReadHeader(Stream stream, long length, string name)
    {
        if (length < 8)
            throw Bad(name, $"truncated: the file has {length} bytes, fewer than the 8-byte header length that starts a safetensors file.");
        Span<byte> lengthField = stackalloc byte[8];
        ReadFully(stream, lengthField, name, "the header length");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthField);
        if (headerLength > MaxHeaderBytes)
            throw Bad(name, $"not a safetensors file, or corrupt: the header length field says {headerLength} bytes (the limit is {MaxHeaderBytes}).");
        if (headerLength > (ulong)(length - 8))
            throw Bad(name, $"truncated: the header should be {headerLength} bytes but only {length - 8} bytes follow the length field.");
        var headerBytes = new byte[(int)headerLength];
        ReadFully(stream, headerBytes, name, "the header");
        if (headerBytes.Length == 0 || headerBytes[0] != (byte)'{')
            throw Bad(name, "corrupt header: it does not start with '{' (not a safetensors JSON header).");
        if (!Utf8.IsValid(headerBytes))
            throw Bad(name, "corrupt header: it is not valid UTF-8 text.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Bad(name, $"corrupt header: not valid JSON ({e.Message}).");
        }
        using (doc)
        {
            try
            {
                return Interpret(doc.RootElement, length - 8 - (long)headerLength, name);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
            {
                // A JSON value of an unexpected kind or invalid text that the checks below did not anticipate.
                throw Bad(name, $"corrupt header: {e.Message}");
            }
        }
    }

    private static Header Interpret(JsonElement root, long dataLength, string name)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Bad(name, "corrupt header: the JSON header is not an object.");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in root.EnumerateObject())
        {
            if (!IsValidText(prop.Name))
                throw Bad(name, $"corrupt header: the key '{prop.Name}' is not valid Unicode text (a lone surrogate).");
            if (!keys.Add(prop.Name))
                throw Bad(name, $"corrupt header: the key '{prop.Name}' appears twice.");
            if (prop.Name == MetadataEntry)
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(name, "corrupt header: __metadata__ is not an object of strings.");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw Bad(name, $"corrupt header: metadata entry '{m.Name}' is not a string.");
                    if (!IsValidText(m.Name) || !IsValidText(m.Value.GetString()!))
                        throw Bad(name, $"corrupt header: metadata entry '{m.Name}' is not valid Unicode text (a lone surrogate).");
                    if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad(name, $"corrupt header: the metadata key '{m.Name}' appears twice.");
                }
                continue;
            }
            entries.Add(ParseEntry(prop, name));
        }
        foreach (var e in entries)
            if (e.End > dataLength)
                throw Bad(name, $"truncated or corrupt: tensor '{e.Name}' needs bytes {e.Begin}..{e.End} of the data section, but it holds only {dataLength} bytes.");
        // The format requires the tensors to tile the data section exactly: no gaps, no overlaps, nothing after.
        var byOffset = InDataOrder(entries).ToList();
        long expected = 0;
        foreach (var e in byOffset)
        {
            if (e.Begin != expected)
                throw Bad(name, e.Begin > expected
                    ? $"corrupt: a gap in the data section before tensor '{e.Name}' (bytes {expected}..{e.Begin} belong to no tensor)."
                    : $"corrupt: tensor '{e.Name}' overlaps another tensor's bytes (it starts at {e.Begin}, before {expected}).");
            expected = e.End;
        }
        if (expected != dataLength)
            throw Bad(name, $"corrupt: {dataLength - expected} bytes after the last tensor belong to no tensor (the file was appended to or is damaged).");
        if (metadata.TryGetValue(IntegrityKey, out var integrity) &&
            !(integrity.StartsWith(IntegrityScheme, StringComparison.Ordinal) && integrity.Length == IntegrityScheme.Length + 64 && IsHex(integrity.AsSpan(IntegrityScheme.Length))))
            throw Bad(name, $"corrupt header: the integrity record '{integrity}' is not '{IntegrityScheme}' followed by 64 hex digits.");
        if (!metadata.ContainsKey(IntegrityKey) && metadata.TryGetValue(LegacyDataHashKey, out var legacy) && !(legacy.Length == 64 && IsHex(legacy)))
            throw Bad(name, $"corrupt header: the data hash record '{legacy}' is not 64 hex digits.");
        return new Header(entries, byOffset, metadata, dataLength);
    }

    private static Entry ParseEntry(JsonProperty prop, string file)
    {
        var tensor = prop.Name;
        if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(file, $"corrupt header: the entry for tensor '{tensor}' is not an object.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in prop.Value.EnumerateObject())
            if (!seen.Add(field.Name)) throw Bad(file, $"corrupt header: tensor '{tensor}' has the field '{field.Name}' twice.");
        if (!prop.Value.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has no dtype string.");
        var dtype = dt.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var info))
            throw Bad(file, $"tensor '{tensor}' has dtype '{dtype}', which is not supported (supported: {string.Join(", ", DTypes.Keys)}).");
        if (!prop.Value.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has no shape array.");
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
        if (o[0].ValueKind != JsonValueKind.Number || o[1].ValueKind != JsonValueKind.Number
            || !o[0].TryGetInt64(out var begin) || !o[1].TryGetInt64(out var end) || begin < 0 || end < 0)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has data_offsets {off.GetRawText()}, which are not two non-negative integers.");
        if (end < begin)
            throw Bad(file, $"corrupt header: tensor '{tensor}' has data_offsets {off.GetRawText()} out of order (end before begin).");
        var numel = ByteLength(shape, info.Size) ?? throw Bad(file, $"corrupt header: tensor '{tensor}' has an impossibly large shape {SafeTensor.ShapeString(shape)}.");
        if (end - begin != numel)
            throw Bad(file, $"corrupt header: tensor '{tensor}' of shape {SafeTensor.ShapeString(shape)} and dtype {dtype} needs {numel} bytes, but its data_offsets span {end - begin}.");
        return new Entry(tensor, dtype, shape.ToArray(), begin, end);
    }

    /// <summary>
    /// Reads the data section in data order, giving each tensor's bytes to its target in element-aligned chunks, and
    /// checks the integrity record at the end: callers must not use what they received unless this returns.
    /// </summary>
    private static void ReadData(Stream stream, Header header, string name, Func<Entry, ChunkTarget> target)
    {
        IncrementalHash? full = null, legacy = null;
        try
        {
            if (header.Metadata.ContainsKey(IntegrityKey))
            {
                full = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                full.AppendData(Canonical(header.Metadata, header.ByOffset, header.DataLength));
            }
            else if (header.Metadata.ContainsKey(LegacyDataHashKey))
                legacy = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            try
            {
                foreach (var e in header.ByOffset)
                {
                    var sink = target(e);
                    for (long done = 0; done < e.Length;)
                    {
                        // Whole chunks (a multiple of every element size) except at a tensor's end.
                        var want = (int)Math.Min(ChunkBytes, e.Length - done);
                        var n = stream.ReadAtLeast(buffer.AsSpan(0, want), want, throwOnEndOfStream: false);
                        if (n < want)
                            throw Bad(name, $"truncated: the file ended inside tensor '{e.Name}' (it shrank while being read).");
                        var chunk = buffer.AsSpan(0, n);
                        full?.AppendData(chunk);
                        legacy?.AppendData(chunk);
                        sink(chunk, done);
                        done += n;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            if (full is not null)
            {
                var actual = IntegrityScheme + Convert.ToHexStringLower(full.GetHashAndReset());
                var recorded = header.Metadata[IntegrityKey];
                if (!string.Equals(actual, recorded, StringComparison.OrdinalIgnoreCase))
                    throw Bad(name, $"corrupt: the SHA-256 over the header (metadata, tensor names, dtypes, shapes, offsets) and the data is {actual[IntegrityScheme.Length..]}, but the file records {recorded[IntegrityScheme.Length..]} (the file was changed or damaged).");
            }
            if (legacy is not null)
            {
                var actual = Convert.ToHexStringLower(legacy.GetHashAndReset());
                var recorded = header.Metadata[LegacyDataHashKey];
                if (!string.Equals(actual, recorded, StringComparison.OrdinalIgnoreCase))
                    throw Bad(name, $"corrupt: the data section's SHA-256 is {actual}, but the file records {recorded} (the tensor bytes were changed or damaged).");
            }
        }
        finally
        {
            full?.Dispose();
            legacy?.Dispose();
        }
    }

    private static void ReadFully(Stream stream, Span<byte> buffer, string name, string what)
    {
        var n = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (n < buffer.Length) throw Bad(name, $"truncated: the file ended inside {what}.");
    }

    private static InvalidDataException Bad(string file, string problem) => new($"{file}: {problem}");

    // ------------------------------------------------------------------------------------------------ byte records

    /// <summary>Copies a tensor's values (any device) into a safetensors record (at most ~2 GiB; <see cref="WriteTensors"/> has no limit).</summary>
    public static SafeTensor FromTensor(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var (dtype, stored) = StoredType(name, tensor.dtype);
        var length = ByteLength(tensor.shape, DTypes[dtype].Size) ?? long.MaxValue;
        if (length > Array.MaxLength)
            throw new NotSupportedException($"Tensor '{name}' holds {length} bytes, more than one byte array can; save it with SafeTensors.WriteTensors (or SaveWeights).");
        var bytes = new byte[length];
        var at = 0;
        EmitTensor(tensor, stored, chunk => { chunk.CopyTo(bytes.AsSpan(at)); at += chunk.Length; });
        return new SafeTensor(name, dtype, tensor.shape.ToArray(), bytes);
    }

    /// <summary>Makes a CPU tensor from a stored record (its own dtype; BOOL bytes other than 0 read as true).</summary>
    public static Tensor ToTensor(SafeTensor stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (!DTypes.TryGetValue(stored.DType, out var info))
            throw new InvalidDataException($"Tensor '{stored.Name}': unsupported dtype '{stored.DType}'.");
        if (ByteLength(stored.Shape, info.Size) != stored.Data.LongLength)
            throw new InvalidDataException($"Tensor '{stored.Name}': shape {stored.ShapeText} of {stored.DType} does not match its {stored.Data.LongLength} bytes.");
        using var scope = NewDisposeScope();
        var t = torch.empty(stored.Shape, info.Type == ScalarType.Bool ? ScalarType.Byte : info.Type);
        var flat = t.reshape(-1);
        var per = Math.Max(1, ChunkBytes / info.Size);
        var n = flat.numel();
        for (long start = 0; start < n; start += per)
        {
            using var part = flat.narrow(0, start, Math.Min(per, n - start));
            stored.Data.AsSpan((int)(start * info.Size), (int)(part.numel() * info.Size)).CopyTo(part.bytes);
        }
        return (info.Type == ScalarType.Bool ? t.ne(0) : t).MoveToOuterDisposeScope();
    }
}
