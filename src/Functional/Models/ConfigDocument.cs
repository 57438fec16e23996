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

    public static JsonNode? Parse(string json)
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
        return JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth });
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
                        var key = Text(ref reader, Path);
                        pendingKey = key;
                        if (!frames[^1].Add(key))
                            throw new ModelConfigException(Path(), $"the key '{Excerpt.Of(key)}' appears more than once in this object; each key may appear once.");
                        break;
                    case JsonTokenType.String:
                        // Valid UTF-8 holds no lone surrogate; only an escape (\ud800) can make one.
                        if (reader.ValueIsEscaped) Text(ref reader, Path);
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
