using System.Buffers.Binary;
using System.IO.Compression;

namespace Functional.Data;

/// <summary>An IDX array (the format of the MNIST distributions): unsigned bytes and their dimensions.</summary>
/// <param name="Dimensions">The dimensions, e.g. (10000, 28, 28) for images or (10000) for labels.</param>
/// <param name="Data">The values, row-major.</param>
public sealed record IdxArray(int[] Dimensions, byte[] Data);

/// <summary>Reads IDX files (<c>train-images-idx3-ubyte</c>, …), gzipped or not. Corrupt or truncated files are rejected with a clear error.</summary>
public static class Idx
{
    /// <summary>Reads an IDX file of unsigned bytes; <c>.gz</c> files (by content, not name) are decompressed.</summary>
    /// <exception cref="InvalidDataException">The file is not an IDX file of unsigned bytes, or it is truncated.</exception>
    public static IdxArray Read(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        var gz = file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        file.Position = 0;
        using Stream stream = gz ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, path);
        }
        catch (InvalidDataException e) when (gz && !e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: the gzip stream is corrupt ({e.Message}).", e);
        }
    }

    /// <summary>Reads IDX data from a stream; <paramref name="name"/> is used in error messages.</summary>
    public static IdxArray Read(Stream stream, string name)
    {
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
            if (total > int.MaxValue) throw new InvalidDataException($"{name}: the data would hold {total} bytes, more than supported.");
        }
        var data = new byte[total];
        ReadExactly(stream, data, name, $"{total} data bytes for shape ({string.Join(", ", dims)})");
        return new IdxArray(dims, data);
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

    /// <summary>
    /// Loads <c>images-idx3-ubyte(.gz)</c> and <c>labels-idx1-ubyte(.gz)</c> from a folder — or the standard
    /// <c>train-images-idx3-ubyte</c>/<c>t10k-images-idx3-ubyte</c> names with <paramref name="prefix"/> <c>train</c> or <c>t10k</c>.
    /// </summary>
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
        var images = Idx.Read(Find("images-idx3-ubyte"));
        var labels = Idx.Read(Find("labels-idx1-ubyte"));
        if (images.Dimensions.Length != 3 || images.Dimensions[1] != 28 || images.Dimensions[2] != 28)
            throw new InvalidDataException($"{directory}: expected images of shape (N, 28, 28); got ({string.Join(", ", images.Dimensions)}).");
        if (labels.Dimensions.Length != 1 || labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDataException($"{directory}: {images.Dimensions[0]} images but labels of shape ({string.Join(", ", labels.Dimensions)}).");
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
