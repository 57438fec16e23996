using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Functional.Models;

/// <summary>
/// Parses config documents. Before the document becomes a <see cref="JsonNode"/>, one forward pass over its tokens —
/// iterative, linear, with the parser's depth limit — checks what the node tree would otherwise fail on later without a
/// path: malformed JSON, an object with a duplicate key (an <see cref="ArgumentException"/> when the object is first
/// read), and a string or key with an unpaired surrogate escape (an <see cref="InvalidOperationException"/> when it is
/// read). Each is a <see cref="ModelConfigException"/> naming the JSON path.
/// </summary>
internal static class ConfigDocument
{
    /// <summary>The deepest nesting read; the model and layer readers recurse only as deep as the document nests.</summary>
    public const int MaxDepth = 64;

    /// <summary>How every node of a config document is parsed: with <see cref="MaxDepth"/>.</summary>
    internal static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    public static JsonNode? Parse(string json)
    {
        var utf8 = CheckedUtf8(json);
        return JsonNode.Parse(utf8, documentOptions: DocumentOptions);
    }

    private static byte[] CheckedUtf8(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        byte[] utf8;
        try { utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true).GetBytes(json); }
        catch (EncoderFallbackException e)
        {
            // An unpaired surrogate in the .NET string itself (not an escape): say where, by character offset.
            throw new ModelConfigException("$", $"the text is not valid Unicode: an unpaired surrogate at character {e.Index:N0}.", e);
        }
        Check(utf8);
        return utf8;
    }

    /// <summary>
    /// A model document whose layer list is read one entry at a time. The root object and its <c>config</c> become nodes
    /// as usual, except the list of layers (<c>config.layers</c>, or a legacy Sequential's bare <c>config</c> list): of
    /// that only each entry's place in the UTF-8 text is kept, and an entry becomes a node when it is read. A reader that
    /// lets each entry go once read holds the text, the model built so far and one entry — never the whole node tree,
    /// which takes about twelve times the text.
    /// </summary>
    public static (JsonNode? Root, LayerEntries? Layers) ParseModel(string json)
    {
        var utf8 = CheckedUtf8(json);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject) return (JsonNode.Parse(ref reader), null);
        var root = new JsonObject();
        LayerEntries? layers = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (key == "config" && reader.TokenType == JsonTokenType.StartArray)
            {
                layers = LayerEntries.Read(utf8, ref reader, legacy: true);
                continue;
            }
            if (key == "config" && reader.TokenType == JsonTokenType.StartObject)
            {
                var config = new JsonObject();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    if (name == "layers" && reader.TokenType == JsonTokenType.StartArray) layers = LayerEntries.Read(utf8, ref reader, legacy: false);
                    else config[name] = JsonNode.Parse(ref reader);
                }
                root[key] = config;
                continue;
            }
            root[key] = JsonNode.Parse(ref reader);
        }
        return (root, layers);
    }

    // An open object or array; an object's keys so far (a short list scanned, or a set once it grows), reused between
    // objects so that checking a document allocates little beyond its strings.
    private sealed class Frame
    {
        public bool IsArray;
        public readonly List<string> Keys = [];
        public HashSet<string>? Set;

        public bool Add(string key)
        {
            if (Set is not null) return Set.Add(key);
            foreach (var k in Keys) if (k == key) return false;
            Keys.Add(key);
            if (Keys.Count > 16) Set = new HashSet<string>(Keys, StringComparer.Ordinal);
            return true;
        }
    }

    private static void Check(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
        var frames = new List<Frame>();
        var pool = new Stack<Frame>();
        var segments = new List<string>();   // per open container: its place in its parent ("" for the root)
        var index = new List<int>();          // per open array: the index of the next element
        string? pendingKey = null;
        string Path()
        {
            var sb = new StringBuilder("$");
            for (var i = 1; i < segments.Count; i++) sb.Append(segments[i]);
            if (pendingKey is not null) sb.Append(Member(pendingKey));
            else if (frames.Count > 0 && frames[^1].IsArray) sb.Append('[').Append(index[^1]).Append(']');
            return sb.ToString();
        }
        static string Member(string key) =>
            key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? $".{key}" : $"[{JsonSerializer.Serialize(Excerpt.Of(key))}]";
        string Here() => pendingKey is not null ? Member(pendingKey) : frames.Count > 0 && frames[^1].IsArray ? $"[{index[^1]}]" : "";
        Func<string> path = Path;   // one delegate for the whole pass, not one per key
        // Keys repeat from object to object ("class_name", "config", …): each distinct key text is one string.
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var keyLookup = keys.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> buffer = stackalloc char[128];
        void Consumed()
        {
            pendingKey = null;
            if (frames.Count > 0 && frames[^1].IsArray) index[^1]++;
        }
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        segments.Add(Here());
                        pendingKey = null;
                        var frame = pool.Count > 0 ? pool.Pop() : new Frame();
                        frame.IsArray = reader.TokenType == JsonTokenType.StartArray;
                        frame.Keys.Clear();
                        frame.Set = null;
                        frames.Add(frame);
                        index.Add(0);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        pool.Push(frames[^1]);
                        frames.RemoveAt(frames.Count - 1);
                        index.RemoveAt(index.Count - 1);
                        segments.RemoveAt(segments.Count - 1);
                        Consumed();
                        break;
                    case JsonTokenType.PropertyName:
                        var key = Key(ref reader, path, keyLookup, buffer);
                        pendingKey = key;
                        if (!frames[^1].Add(key))
                            throw new ModelConfigException(Path(), $"the key '{Excerpt.Of(key)}' appears more than once in this object; each key may appear once.");
                        break;
                    case JsonTokenType.String:
                        // Valid UTF-8 holds no lone surrogate; only an escape (\ud800) can make one.
                        if (reader.ValueIsEscaped) Text(ref reader, path);
                        Consumed();
                        break;
                    default:
                        Consumed();
                        break;
                }
            }
        }
        catch (JsonException e) when (e is not ModelConfigException)
        {
            // The reader's message gives the line and byte position and never quotes the input.
            throw new ModelConfigException(Path(), e.Message, e);
        }
    }

    // A key as a string shared by every equal key of the document (short, unescaped keys are decoded without allocating).
    private static string Key(ref Utf8JsonReader reader, Func<string> path, HashSet<string>.AlternateLookup<ReadOnlySpan<char>> known, scoped Span<char> buffer)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence || reader.ValueSpan.Length > buffer.Length) return Text(ref reader, path);
        if (!Encoding.UTF8.TryGetChars(reader.ValueSpan, buffer, out var length)) return Text(ref reader, path);
        var chars = buffer[..length];
        if (known.TryGetValue(chars, out var key)) return key;
        key = chars.ToString();
        if (known.Set.Count < 4096) known.Add(key);
        return key;
    }

    private static string Text(ref Utf8JsonReader reader, Func<string> path)
    {
        try { return reader.GetString()!; }
        catch (InvalidOperationException e)
        {
            throw new ModelConfigException(path(),
                $"the {(reader.TokenType == JsonTokenType.PropertyName ? "key" : "string")} is not valid Unicode (an unpaired surrogate escape such as \\ud800).", e);
        }
    }
}

/// <summary>
/// The entries of a model document's layer list, kept as their places in the document's UTF-8 text; <see cref="Get"/>
/// makes one entry a node (a small document of its own) when it is read.
/// </summary>
internal sealed class LayerEntries
{
    private readonly byte[] utf8;
    private readonly List<(int Start, int Length)> places;

    private readonly (int Start, int Length) whole;

    private LayerEntries(byte[] utf8, List<(int, int)> places, (int, int) whole, bool legacy)
    {
        this.utf8 = utf8;
        this.places = places;
        this.whole = whole;
        Legacy = legacy;
    }

    /// <summary>Whether the list is a legacy Sequential's bare <c>config</c> list (Keras before 2.2).</summary>
    public bool Legacy { get; }

    public int Count => places.Count;

    public JsonNode? Get(int i) => Node(places[i]);

    /// <summary>The whole list as one node (for an error that quotes it).</summary>
    public JsonNode? Whole() => Node(whole);

    private JsonNode? Node((int Start, int Length) place) =>
        JsonNode.Parse(utf8.AsSpan(place.Start, place.Length), documentOptions: ConfigDocument.DocumentOptions);

    // The reader stands on the list's StartArray; it is left on its EndArray.
    public static LayerEntries Read(byte[] utf8, ref Utf8JsonReader reader, bool legacy)
    {
        var places = new List<(int, int)>();
        var listStart = checked((int)reader.TokenStartIndex);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var start = checked((int)reader.TokenStartIndex);
            reader.Skip();
            places.Add((start, checked((int)reader.BytesConsumed - start)));
        }
        return new LayerEntries(utf8, places, (listStart, checked((int)reader.BytesConsumed - listStart)), legacy);
    }
}
