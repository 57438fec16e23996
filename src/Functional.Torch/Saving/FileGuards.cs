using PureHDF;

namespace Functional.Torch.Saving;

/// <summary>
/// What stands between a hostile file and the process: every public read of <see cref="KerasH5"/> runs under
/// <see cref="Guard{T}"/>, which turns whatever the file makes the HDF5 reader, the zip reader or the JSON reader throw into
/// one kind of exception, an <see cref="InvalidDataException"/> whose message names the file and the object being read
/// (and whose <see cref="Exception.Data"/> holds them under <see cref="FileKey"/> and <see cref="ObjectKey"/>); sizes a
/// file declares are checked against what the file can hold before anything is allocated for them.
/// </summary>
public static partial class KerasH5
{
    /// <summary>The key of <see cref="Exception.Data"/> under which a failure to read a Keras file names the file.</summary>
    public const string FileKey = "KerasFile";

    /// <summary>The key of <see cref="Exception.Data"/> under which a failure to read a Keras file names the object in it
    /// (<c>model_config</c>, <c>dense/dense/kernel:0</c>, <c>config.json</c>, …), when one is known.</summary>
    public const string ObjectKey = "KerasObject";

    // The failure to read `path`'s `objectName`.
    private static InvalidDataException FileError(string path, string? objectName, string message, Exception? inner = null)
    {
        var e = new InvalidDataException(message, inner);
        e.Data[FileKey] = path;
        e.Data[ObjectKey] = objectName;
        return e;
    }

    internal static InvalidDataException FileErrorFor(string path, string? objectName, string message) => FileError(path, objectName, message);

    // The HDF5 structure walked for impossible sizes before PureHDF reads it (see Hdf5Scan).
    private static void Prescan(Stream stream, string path)
    {
        var buffer = new byte[8];
        for (long offset = 0; offset + 8 <= stream.Length; offset = offset == 0 ? 512 : offset * 2)
        {
            stream.Position = offset;
            stream.ReadExactly(buffer);
            if (buffer.AsSpan().SequenceEqual(Signature))
            {
                Hdf5Scan.Check(stream, path, offset);
                stream.Position = 0;
                return;
            }
            if (offset >= 1 << 20) break;
        }
    }

    private static bool IsFileError(Exception e) => e is InvalidDataException && e.Data.Contains(FileKey);

    // The object being read on this thread, for messages about failures that do not say (the HDF5 reader's own exceptions).
    [ThreadStatic] private static string? reading;

    private static void Reading(string what) => reading = what;

    // The length of the HDF5 file (or in-memory weights entry) being read on this thread, to check declared sizes against.
    [ThreadStatic] private static long fileLength;

    // Runs a read of `path`: a failure caused by the file's content becomes an InvalidDataException naming the file and the
    // object; a missing file and misuse of the API (ArgumentException naming a parameter of ours) stay what they are.
    private static T Guard<T>(string path, Func<T> read)
    {
        reading = null;
        fileLength = 0;
        try
        {
            return read();
        }
        catch (Exception e) when (IsFileError(e))
        {
            throw;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or ObjectDisposedException
                                     || e is ArgumentException { ParamName: "byName" or "skipMismatch" or "network" or "path" or "json" })
        {
            throw;
        }
        catch (InvalidDataException e)
        {
            var message = e.Message.Contains(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}";
            if (reading is not null && !message.Contains(reading, StringComparison.Ordinal)) message += $" (reading '{reading}')";
            throw FileError(path, reading, message, e);
        }
        catch (Exception e) when (e is EndOfStreamException)
        {
            throw FileError(path, reading,
                $"{path}: the file ends before {Object(reading)} does: it is truncated or corrupt ({e.Message}).", e);
        }
        catch (Exception e) when (e is OutOfMemoryException or InsufficientExecutionStackException)
        {
            throw FileError(path, reading,
                $"{path}: {Object(reading)} declares more than can be read ({e.GetType().Name}); the file is corrupt or hostile.", e);
        }
        catch (Exception e)
        {
            throw FileError(path, reading,
                $"{path}: {Object(reading)} cannot be read: the file is corrupt or not what it claims ({e.GetType().Name}: {e.Message}).", e);
        }
        finally
        {
            reading = null;
        }
    }

    private static string Object(string? what) => what is null ? "the file's structure" : $"'{what}'";

    /// <summary>The most elements a list attribute (<c>layer_names</c>, <c>weight_names</c>) may declare.</summary>
    private const ulong MaxAttributeElements = 1 << 20;

    // An attribute's declared size against what the file can hold and this reader reads, before it is read.
    private static void CheckAttributeSize(IH5Attribute attribute, string name, string path, long fileLength)
    {
        ulong count = 1;
        foreach (var d in attribute.Space.Dimensions)
        {
            if (d != 0 && count > ulong.MaxValue / d)
                throw FileError(path, name, $"{path}: attribute '{name}' declares a size that overflows.");
            count *= d;
        }
        var bytes = count * Math.Max(1UL, (ulong)attribute.Type.Size);
        if (count > MaxAttributeElements || (fileLength > 0 && bytes > (ulong)fileLength))
            throw FileError(path, name,
                $"{path}: attribute '{name}' declares {count:N0} element(s) of {attribute.Type.Size} byte(s), more than the file ({fileLength:N0} bytes) holds.");
    }

    // A dataset's declared layout against the file before it is read: the values (a contiguous or compact dataset) fit in
    // the file, and a chunk is not larger than the dataset (a decompressed chunk is allocated whole).
    private static void CheckDatasetSize(IH5Dataset dataset, long[] dims, string path, string name, long fileLength)
    {
        var elements = dims.Aggregate(1L, (a, b) => a * b);
        var size = Math.Max(1L, (long)dataset.Type.Size);
        var bytes = elements * size;
        var layout = dataset.Layout;
        if (layout.Class == H5DataLayoutClass.Chunked)
        {
            // Chunk dimensions carry one extra (the element size) in HDF5's layout message; the product of the rest bounds
            // the buffer a chunk needs.
            var chunk = 1.0;
            foreach (var c in layout.Chunks.Take(dims.Length)) chunk *= c;
            if (chunk * size > Math.Max(4.0 * bytes, 1 << 20))
                throw FileError(path, name,
                    $"{path}: dataset '{name}' {Shape(dims)} declares chunks of {chunk:N0} elements, far more than it holds.");
        }
        else if (layout.Class == H5DataLayoutClass.Contiguous && fileLength > 0 && bytes > fileLength)
        {
            throw FileError(path, name,
                $"{path}: dataset '{name}' {Shape(dims)} declares {bytes:N0} bytes, more than the file ({fileLength:N0} bytes) holds: it is truncated or corrupt.");
        }
    }

    /// <summary>The largest compression ratio (uncompressed / compressed) taken for an archive entry over 1 MB: deflate
    /// cannot exceed about 1 000, Keras stores its entries uncompressed (1), and a zip bomb needs far more than 100.</summary>
    private const long MaxEntryRatio = 100;

    // A .keras archive's directory before any entry is read: every entry name relative and inside the archive (no '..',
    // no absolute or drive-rooted path), no name twice, and no entry whose declared size is a zip bomb's.
    private static void CheckArchive(System.IO.Compression.ZipArchive zip, string path)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in zip.Entries)
        {
            var name = entry.FullName;
            var parts = name.Replace('\\', '/').Split('/');
            if (name.StartsWith('/') || name.StartsWith('\\') || (name.Length > 1 && name[1] == ':') || parts.Contains(".."))
                throw FileError(path, name, $"{path}: archive entry '{name}' points outside the archive (an absolute path or '..'); the archive is refused.");
            if (!seen.Add(name))
                throw FileError(path, name, $"{path}: the archive holds entry '{name}' more than once; which one Keras would read is undefined, so the archive is refused.");
            if (entry.Length < 0 || entry.CompressedLength < 0)
                throw FileError(path, name, $"{path}: archive entry '{name}' declares a negative size.");
            if (entry.Length > (1 << 20) && entry.Length > MaxEntryRatio * Math.Max(1, entry.CompressedLength))
                throw FileError(path, name,
                    $"{path}: archive entry '{name}' declares {entry.Length:N0} bytes from {entry.CompressedLength:N0} compressed (ratio over {MaxEntryRatio}): a zip bomb, refused.");
        }
    }
}
