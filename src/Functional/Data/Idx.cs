using System.Buffers.Binary;
using System.IO.Compression;

namespace Functional.Data;

/// <summary>An IDX array (the format of the MNIST distributions): unsigned bytes and their dimensions.</summary>
/// <param name="Dimensions">The dimensions, e.g. (10000, 28, 28) for images or (10000) for labels.</param>
/// <param name="Data">The values, row-major.</param>
public sealed record IdxArray(int[] Dimensions, byte[] Data);

/// <summary>
/// Reads IDX files (<c>train-images-idx3-ubyte</c>, …), gzipped or not. Corrupt, truncated or over-long files are rejected
/// with an <see cref="InvalidDataException"/> naming the file and the problem — before the declared size is allocated: an
/// uncompressed file's length must match its header exactly, and a gzipped one is decompressed into a buffer that grows only
/// as data arrives.
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file of unsigned bytes; <c>.gz</c> files (by content, not name) are decompressed.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not an IDX file of unsigned bytes, or it is truncated or has data after the declared array.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No IDX file at '{path}'.", path);
        using var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        var gz = file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        file.Position = 0;
        if (!gz) return Read(file, path);
        using var stream = new GZipStream(file, CompressionMode.Decompress);
        try
        {
            return Read(stream, path);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: the gzip stream is corrupt ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Reads IDX data from a stream, which must end where the array does; <paramref name="name"/> is used in error messages.
    /// A seekable stream's remaining length is checked against the header before anything is allocated; otherwise the
    /// buffer grows only as bytes arrive.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an IDX file of unsigned bytes, truncated, or data after the declared array.</exception>
    public static IdxArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[4];
        ReadExactly(stream, header, name, "the 4-byte magic number");
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"{name}: not an IDX file (the magic number must start with two zero bytes; got 0x{header[0]:x2}{header[1]:x2}).");
        if (header[2] != 0x08)
            throw new InvalidDataException($"{name}: only IDX files of unsigned bytes (type 0x08) are supported; got type 0x{header[2]:x2}.");
        int rank = header[3];
        if (rank is < 1 or > 8) throw new InvalidDataException($"{name}: an IDX rank of {rank} is not supported (1 to 8).");
        var dimsBytes = new byte[4 * rank];
        ReadExactly(stream, dimsBytes, name, $"{rank} dimension sizes");
        var dims = new int[rank];
        long total = 1;
        for (var i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadInt32BigEndian(dimsBytes.AsSpan(4 * i));
            if (d < 0) throw new InvalidDataException($"{name}: dimension {i} is negative ({d}).");
            dims[i] = d;
            total *= d;
            if (total > Array.MaxLength) throw new InvalidDataException($"{name}: the header declares shape ({string.Join(", ", dims.Take(i + 1))}{(i + 1 < rank ? ", …" : "")}), more than {Array.MaxLength} bytes, which is not supported.");
        }
        var shape = $"({string.Join(", ", dims)})";
        if (stream.CanSeek)
        {
            var remaining = stream.Length - stream.Position;
            if (remaining < total)
                throw new InvalidDataException($"{name}: truncated — the header declares shape {shape}, {total} data bytes, but only {remaining} bytes follow it.");
            if (remaining > total)
                throw new InvalidDataException($"{name}: {remaining - total} bytes follow the {total} data bytes of shape {shape} (trailing data: not a well-formed IDX file).");
        }
        var data = ReadGrowing(stream, (int)total, name, $"{total} data bytes for shape {shape}");
        if (!stream.CanSeek && stream.ReadByte() >= 0)
            throw new InvalidDataException($"{name}: data follows the {total} data bytes of shape {shape} (trailing data: not a well-formed IDX file).");
        return new IdxArray(dims, data);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes into a buffer that grows (doubling) only as bytes arrive.</summary>
    private static byte[] ReadGrowing(Stream s, int count, string name, string what)
    {
        var buffer = new byte[Math.Min(count, 1 << 20)];
        var read = 0;
        while (read < count)
        {
            if (read == buffer.Length) Array.Resize(ref buffer, (int)Math.Min(count, 2L * buffer.Length));
            var n = s.Read(buffer, read, buffer.Length - read);
            if (n == 0) throw new InvalidDataException($"{name}: truncated — expected {what}, but the data ended after {read} bytes.");
            read += n;
        }
        return buffer;
    }

    private static void ReadExactly(Stream s, byte[] buffer, string name, string what)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = s.Read(buffer, read, buffer.Length - read);
            if (n == 0) throw new InvalidDataException($"{name}: truncated — expected {what}, but the file ended after {read} of {buffer.Length} bytes.");
            read += n;
        }
    }
}

/// <summary>An MNIST-style data set: 28×28 grey images as bytes and their labels.</summary>
/// <param name="Images">N×28×28 bytes, row-major.</param>
/// <param name="Labels">N labels in 0..9.</param>
/// <param name="Count">N.</param>
public sealed record DigitSet(byte[] Images, byte[] Labels, int Count)
{
    /// <summary>Pixels per image (28·28).</summary>
    public const int Pixels = 28 * 28;

    /// <summary>Classes (labels 0 to 9).</summary>
    public const int Classes = 10;

    /// <summary>
    /// Loads <c>images-idx3-ubyte(.gz)</c> and <c>labels-idx1-ubyte(.gz)</c> from a folder — or the standard
    /// <c>train-images-idx3-ubyte</c>/<c>t10k-images-idx3-ubyte</c> names with <paramref name="prefix"/> <c>train</c> or <c>t10k</c>.
    /// </summary>
    /// <exception cref="InvalidDataException">A corrupt file, images not 28×28, a label count that differs from the image count,
    /// or a label outside 0..9; the message names the file.</exception>
    public static DigitSet Load(string directory, string? prefix = null)
    {
        string Find(string stem)
        {
            var name = prefix is null ? stem : $"{prefix}-{stem}";
            foreach (var candidate in new[] { name + ".gz", name })
            {
                var p = Path.Combine(directory, candidate);
                if (File.Exists(p)) return p;
            }
            throw new FileNotFoundException($"No {name}(.gz) in '{directory}'.", Path.Combine(directory, name));
        }
        var imagesPath = Find("images-idx3-ubyte");
        var labelsPath = Find("labels-idx1-ubyte");
        var images = Idx.Read(imagesPath);
        var labels = Idx.Read(labelsPath);
        if (images.Dimensions.Length != 3 || images.Dimensions[1] != 28 || images.Dimensions[2] != 28)
            throw new InvalidDataException($"{imagesPath}: expected images of shape (N, 28, 28); got ({string.Join(", ", images.Dimensions)}).");
        if (labels.Dimensions.Length != 1 || labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDataException($"{labelsPath}: {images.Dimensions[0]} images but labels of shape ({string.Join(", ", labels.Dimensions)}).");
        var bad = Array.FindIndex(labels.Data, l => l >= Classes);
        if (bad >= 0)
            throw new InvalidDataException($"{labelsPath}: label {bad} is {labels.Data[bad]}, outside the {Classes} classes (0 to {Classes - 1}) of a digit set.");
        return new DigitSet(images.Data, labels.Data, images.Dimensions[0]);
    }

    /// <summary>A seeded shuffle, split into the first <paramref name="trainCount"/> samples and the rest (held out).</summary>
    public (DigitSet Train, DigitSet Test) Split(int trainCount, int seed)
    {
        if (trainCount <= 0 || trainCount >= Count)
            throw new ArgumentOutOfRangeException(nameof(trainCount), $"Expected 0 < trainCount < {Count}. Received: {trainCount}.");
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        DigitSet Take(IEnumerable<int> idx)
        {
            var ids = idx.ToArray();
            var img = new byte[ids.Length * Pixels];
            var lab = new byte[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                Array.Copy(Images, ids[i] * Pixels, img, i * Pixels, Pixels);
                lab[i] = Labels[ids[i]];
            }
            return new DigitSet(img, lab, ids.Length);
        }
        return (Take(order.Take(trainCount)), Take(order.Skip(trainCount)));
    }

    /// <summary>Finds a data folder shipped in this repository (<c>data/mnist</c>, <c>data/fashion-mnist</c>) by walking up from <paramref name="start"/>.</summary>
    public static string FindRepositoryData(string name, string? start = null)
    {
        for (var dir = new DirectoryInfo(start ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", name);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"No data/{name} folder above '{start ?? AppContext.BaseDirectory}'.");
    }
}
