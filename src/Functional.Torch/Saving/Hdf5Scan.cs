using System.Buffers.Binary;

namespace Functional.Torch.Saving;

/// <summary>
/// A walk over an HDF5 file's structure before PureHDF reads it, checking the sizes PureHDF allocates for as soon as it
/// touches an object: PureHDF decodes every attribute of an object header eagerly, allocating the attribute's declared size
/// (its dataspace times its datatype, up to 2 GB) before it finds that the file does not hold it, and it reads a local
/// heap's data segment whole at its declared size. The walk follows the group tree (symbol tables: B-tree v1 nodes and
/// symbol table nodes; and link messages of new-style groups) from the root and checks, in every object header and its
/// continuation blocks, that each message lies inside its block and each attribute's data inside its message, and that
/// each local heap lies inside the file. It reads only structure (a few bytes per object), never data.
/// </summary>
/// <remarks>
/// Files with offsets or lengths other than 8 bytes, and structures the walk does not know (fractal-heap groups, shared
/// messages), are left to PureHDF unchecked: the walk refuses only what it has read and found impossible.
/// </remarks>
internal sealed class Hdf5Scan
{
    private readonly Stream stream;
    private readonly string path;
    private readonly long length;
    private long baseAddress;
    private readonly HashSet<long> visited = [];
    private readonly byte[] buffer = new byte[64];
    private int objects;

    /// <summary>The most objects (headers, heaps, tree nodes) one walk visits.</summary>
    private const int MaxObjects = 1 << 20;

    private Hdf5Scan(Stream stream, string path, long baseAddress)
    {
        this.stream = stream;
        this.path = path;
        length = stream.Length;
        this.baseAddress = baseAddress;
    }

    /// <summary>Walks the file whose HDF5 signature is at <paramref name="signatureAt"/>; throws an
    /// <see cref="InvalidDataException"/> naming the file and the object at the first impossible size.</summary>
    internal static void Check(Stream stream, string path, long signatureAt)
    {
        var scan = new Hdf5Scan(stream, path, signatureAt);
        scan.Superblock(signatureAt);
    }

    private InvalidDataException Bad(long address, string what) =>
        KerasH5.FileErrorFor(path, $"HDF5 object at byte {address}", $"{path}: the HDF5 object at byte {address:N0} {what}; the file is corrupt or hostile.");

    private ReadOnlySpan<byte> Bytes(long at, int count, string what)
    {
        if (at < 0 || count < 0 || at > length - count) throw Bad(at, $"({what}) lies beyond the end of the file ({length:N0} bytes)");
        var span = buffer.AsSpan(0, count);
        stream.Position = at;
        stream.ReadExactly(span);
        return span;
    }

    private ulong U(long at, int size, string what)
    {
        var b = Bytes(at, size, what);
        return size switch
        {
            1 => b[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(b),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(b),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(b),
        };
    }

    private const ulong Undefined = ulong.MaxValue;

    private long Address(ulong relative, long from, string what)
    {
        if (relative == Undefined) return -1;
        var absolute = (decimal)relative + baseAddress;
        if (absolute >= length) throw Bad(from, $"points to byte {absolute:N0} ({what}), beyond the end of the file ({length:N0} bytes)");
        return (long)absolute;
    }

    private void Superblock(long at)
    {
        var version = U(at + 8, 1, "superblock version");
        switch (version)
        {
            case 0 or 1:
                if (U(at + 13, 1, "size of offsets") != 8 || U(at + 14, 1, "size of lengths") != 8) return;
                var addresses = at + (version == 0 ? 24 : 28);
                baseAddress = Base(U(addresses, 8, "base address"), at);
                // base, free space, end of file, driver info; then the root group's symbol table entry.
                SymbolTableEntry(addresses + 32, addresses);
                break;
            case 2 or 3:
                if (U(at + 9, 1, "size of offsets") != 8 || U(at + 10, 1, "size of lengths") != 8) return;
                baseAddress = Base(U(at + 12, 8, "base address"), at);
                // base, superblock extension, end of file, root group object header.
                ObjectHeader(Address(U(at + 12 + 24, 8, "root object header address"), at, "the root group"));
                break;
        }
    }

    // The base address all others are relative to: the superblock's own address in every file HDF5 writes.
    private long Base(ulong value, long superblock) =>
        value < (ulong)length ? (long)value : throw Bad(superblock, $"declares base address {value:N0}, beyond the end of the file");

    // A symbol table entry (40 bytes): link name offset, object header address, cache type, reserved, scratch pad.
    // A group's entry caches its B-tree and local heap addresses in the scratch pad (cache type 1), and PureHDF reads the
    // group through those.
    private void SymbolTableEntry(long at, long from)
    {
        ObjectHeader(Address(U(at + 8, 8, "object header address"), from, "an object header"));
        if (U(at + 16, 4, "cache type") == 1)
        {
            LocalHeap(Address(U(at + 32, 8, "cached local heap address"), from, "a local heap"));
            GroupTree(Address(U(at + 24, 8, "cached B-tree address"), from, "a group B-tree"), 0);
        }
    }

    private bool Visit(long address)
    {
        if (address < 0 || !visited.Add(address)) return false;
        if (++objects > MaxObjects) throw Bad(address, $"is one of more than {MaxObjects:N0} objects the structure reaches");
        return true;
    }

    private void ObjectHeader(long at)
    {
        if (!Visit(at)) return;
        var signature = Bytes(at, 4, "object header");
        if (signature.SequenceEqual("OHDR"u8))
        {
            ObjectHeader2(at);
            return;
        }
        if (U(at, 1, "object header version") != 1) throw Bad(at, "is not an object header (unknown version)");
        var size = U(at + 8, 4, "object header size");
        Messages1(at + 16, (long)size, at);
    }

    // Version 1 header messages: type (2), size (2), flags (1), reserved (3), data — in a block of `size` bytes.
    private void Messages1(long start, long size, long header)
    {
        if (size < 0 || start > length - size) throw Bad(header, $"declares {size:N0} bytes of header messages, beyond the end of the file");
        var at = start;
        while (at + 8 <= start + size)
        {
            var type = (int)U(at, 2, "message type");
            var messageSize = (long)U(at + 2, 2, "message size");
            var flags = (int)U(at + 4, 1, "message flags");
            var data = at + 8;
            if (data + messageSize > start + size) throw Bad(header, $"holds a message (type {type}) of {messageSize:N0} bytes that overruns its block");
            Message(type, data, messageSize, flags, header, version1: true);
            at = data + messageSize;
        }
    }

    // Version 2 headers ("OHDR"): version, flags, optional times and attribute limits, chunk 0 size, messages, checksum.
    private void ObjectHeader2(long at)
    {
        var flags = (int)U(at + 5, 1, "object header flags");
        var p = at + 6;
        if ((flags & 0x20) != 0) p += 16;
        if ((flags & 0x10) != 0) p += 4;
        var sizeBytes = 1 << (flags & 3);
        var size = (long)U(p, sizeBytes, "object header chunk size");
        Messages2(p + sizeBytes, size, flags, at);
    }

    private void Messages2(long start, long size, int headerFlags, long header)
    {
        if (size < 0 || start > length - size) throw Bad(header, $"declares {size:N0} bytes of header messages, beyond the end of the file");
        var order = (headerFlags & 0x04) != 0 ? 2 : 0;
        var at = start;
        while (at + 4 + order <= start + size)
        {
            var type = (int)U(at, 1, "message type");
            var messageSize = (long)U(at + 1, 2, "message size");
            var flags = (int)U(at + 3, 1, "message flags");
            var data = at + 4 + order;
            if (data + messageSize > start + size) throw Bad(header, $"holds a message (type {type}) of {messageSize:N0} bytes that overruns its block");
            Message(type, data, messageSize, flags, header, version1: false);
            at = data + messageSize;
        }
    }

    private void Message(int type, long at, long size, int flags, long header, bool version1)
    {
        if ((flags & 0x02) != 0) return;   // a shared message: stored elsewhere, left to PureHDF
        switch (type)
        {
            case 0x0C:
                Attribute(at, size, header);
                break;
            case 0x10:   // continuation: offset, length
                var block = Address(U(at, 8, "continuation address"), header, "a header continuation block");
                var blockLength = (long)U(at + 8, 8, "continuation length");
                if (block < 0 || !Visit(block)) return;
                if (version1) Messages1(block, blockLength, header);
                else
                {
                    if (!Bytes(block, 4, "continuation block").SequenceEqual("OCHK"u8)) throw Bad(block, "is not a header continuation block");
                    Messages2(block + 4, blockLength - 8, 0, header);
                }
                break;
            case 0x11:   // symbol table: v1 B-tree address, local heap address
                LocalHeap(Address(U(at + 8, 8, "local heap address"), header, "a local heap"));
                GroupTree(Address(U(at, 8, "B-tree address"), header, "a group B-tree"), 0);
                break;
            case 0x06:
                Link(at, size, header);
                break;
            case 0x04 or 0x05:   // fill value (old, new): PureHDF reads the value at its declared size
                FillValue(type, at, size, header);
                break;
        }
    }

    // An attribute message: its name, datatype and dataspace within the message, and its data (dataspace × datatype
    // size, which PureHDF allocates at once) within what is left of it.
    private void Attribute(long at, long size, long header)
    {
        var version = (int)U(at, 1, "attribute version");
        var flags = version == 1 ? 0 : (int)U(at + 1, 1, "attribute flags");
        if ((flags & 0x03) != 0) return;   // shared datatype or dataspace
        var nameSize = (long)U(at + 2, 2, "attribute name size");
        var typeSize = (long)U(at + 4, 2, "attribute datatype size");
        var spaceSize = (long)U(at + 6, 2, "attribute dataspace size");
        var p = at + 8 + (version == 3 ? 1 : 0);
        long Pad(long n) => version == 1 ? (n + 7) / 8 * 8 : n;
        var typeAt = p + Pad(nameSize);
        var spaceAt = typeAt + Pad(typeSize);
        var dataAt = spaceAt + Pad(spaceSize);
        if (dataAt > at + size) throw Bad(header, $"holds an attribute whose name, datatype and dataspace ({nameSize + typeSize + spaceSize:N0} bytes) overrun its message ({size:N0} bytes)");
        if (typeSize < 8 || spaceSize < 2) return;
        var elementSize = (decimal)U(typeAt + 4, 4, "attribute datatype size");
        var spaceVersion = (int)U(spaceAt, 1, "dataspace version");
        var rank = (int)U(spaceAt + 1, 1, "dataspace rank");
        var dims = spaceVersion == 1 ? spaceAt + 8 : spaceAt + 4;
        if (spaceVersion == 2 && U(spaceAt + 3, 1, "dataspace type") == 2) rank = 0;   // null dataspace: no data
        decimal count = 1;
        for (var i = 0; i < rank; i++)
        {
            count *= U(dims + 8L * i, 8, "attribute dimension");
            if (count > length) break;
        }
        var bytes = count * elementSize;
        if (bytes > at + size - dataAt)
            throw Bad(header, $"holds an attribute declaring {bytes:N0} bytes of data in a message that has {at + size - dataAt:N0}");
        // Variable-length data (h5py's str attributes): each element points into a global heap collection, which PureHDF
        // reads whole.
        if ((U(typeAt, 1, "datatype class") & 0x0F) == 9 && elementSize == 16)
            for (var i = 0L; i < count; i++)
                GlobalHeap(Address(U(dataAt + 16 * i + 4, 8, "global heap address"), header, "a global heap collection"));
    }

    // A global heap collection ("GCOL"): version, reserved, collection size, then objects (index, references, reserved,
    // size, data padded to 8) up to the free space (index 0). PureHDF reads the collection whole, then each object.
    private void GlobalHeap(long at)
    {
        if (at < 0 || !Visit(at)) return;
        if (!Bytes(at, 4, "global heap collection").SequenceEqual("GCOL"u8)) throw Bad(at, "is not a global heap collection");
        var size = (decimal)U(at + 8, 8, "global heap collection size");
        if (size < 16 || size > length - at) throw Bad(at, $"is a global heap collection declaring {size:N0} bytes, beyond the end of the file");
        var end = at + (long)size;
        var p = at + 16;
        while (p + 16 <= end)
        {
            var index = U(p, 2, "global heap object index");
            if (index == 0) break;
            var objectSize = (decimal)U(p + 8, 8, "global heap object size");
            if (objectSize > end - p - 16) throw Bad(at, $"holds a global heap object declaring {objectSize:N0} bytes, more than its collection holds");
            p += 16 + ((long)objectSize + 7) / 8 * 8;
        }
    }

    // A fill value message: the old form is size (4) and value; the new one version 1/2: version, allocation time, write
    // time, defined, [size (4), value]; version 3: version, flags, [size (4), value] when flag 0x20 says a value is defined.
    private void FillValue(int type, long at, long size, long header)
    {
        long sizeAt;
        if (type == 0x04) sizeAt = at;
        else
        {
            var version = (int)U(at, 1, "fill value version");
            if (version is 1 or 2)
            {
                if (version == 2 && U(at + 3, 1, "fill value defined") == 0) return;
                sizeAt = at + 4;
            }
            else
            {
                if ((U(at + 1, 1, "fill value flags") & 0x20) == 0) return;
                sizeAt = at + 2;
            }
        }
        if (sizeAt + 4 > at + size) throw Bad(header, "holds a fill value message that overruns itself");
        var valueSize = (long)U(sizeAt, 4, "fill value size");
        if (valueSize > at + size - sizeAt - 4)
            throw Bad(header, $"holds a fill value declaring {valueSize:N0} bytes in a message that has {at + size - sizeAt - 4:N0}");
    }

    // A local heap ("HEAP"): version, reserved, data segment size, free list offset, data segment address. PureHDF reads
    // the data segment whole.
    private void LocalHeap(long at)
    {
        if (!Visit(at)) return;
        if (!Bytes(at, 4, "local heap").SequenceEqual("HEAP"u8)) throw Bad(at, "is not a local heap");
        var size = U(at + 8, 8, "local heap size");
        var data = Address(U(at + 24, 8, "local heap data address"), at, "a local heap's data");
        if (data >= 0 && (decimal)size > length - data) throw Bad(at, $"is a local heap declaring {size:N0} bytes, beyond the end of the file");
    }

    // A group's v1 B-tree ("TREE", node type 0): children are B-tree nodes (level > 0) or symbol table nodes.
    private void GroupTree(long at, int depth)
    {
        if (at < 0 || !Visit(at)) return;
        if (depth > 64) throw Bad(at, "nests group B-tree nodes more than 64 deep");
        if (!Bytes(at, 4, "B-tree node").SequenceEqual("TREE"u8)) throw Bad(at, "is not a B-tree node");
        if (U(at + 4, 1, "B-tree node type") != 0) return;
        var level = (int)U(at + 5, 1, "B-tree level");
        var entries = (long)U(at + 6, 2, "B-tree entries");
        var p = at + 24;   // signature, type, level, entries used, left and right siblings
        for (var i = 0; i < entries; i++)
        {
            var child = Address(U(p + 8 + 16L * i, 8, "B-tree child"), at, "a B-tree child");
            if (level > 0) GroupTree(child, depth + 1);
            else SymbolNode(child);
        }
    }

    // A symbol table node ("SNOD"): version, reserved, number of symbols, then 40-byte symbol table entries.
    private void SymbolNode(long at)
    {
        if (at < 0 || !Visit(at)) return;
        if (!Bytes(at, 4, "symbol table node").SequenceEqual("SNOD"u8)) throw Bad(at, "is not a symbol table node");
        var symbols = (long)U(at + 6, 2, "number of symbols");
        for (var i = 0; i < symbols; i++) SymbolTableEntry(at + 8 + 40 * i, at);
    }

    // A link message of a new-style group: version, flags, [type], [creation order], [charset], name length, name, target.
    private void Link(long at, long size, long header)
    {
        var flags = (int)U(at + 1, 1, "link flags");
        var p = at + 2;
        var type = 0;
        if ((flags & 0x08) != 0) { type = (int)U(p, 1, "link type"); p += 1; }
        if ((flags & 0x04) != 0) p += 8;
        if ((flags & 0x10) != 0) p += 1;
        var lengthSize = 1 << (flags & 3);
        var nameLength = (long)U(p, lengthSize, "link name length");
        p += lengthSize;
        if (nameLength < 0 || p + nameLength > at + size) throw Bad(header, $"holds a link whose name ({nameLength:N0} bytes) overruns its message");
        if (type == 0) ObjectHeader(Address(U(p + nameLength, 8, "link target"), header, "a linked object"));
    }
}
