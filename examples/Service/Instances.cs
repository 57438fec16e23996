using System.Globalization;
using Functional.Shapes;
using System.Text;
using System.Text.Json;

namespace Functional.Examples.Service;

/// <summary>Input the service cannot use; answered 400 with the message.</summary>
public sealed class BadRequestException(string message) : Exception(message);

/// <summary>A request's instances, one after another (<see cref="ServedModel.InputSize"/> values each).</summary>
public sealed record InstanceBatch(float[] Values, int Count);

/// <summary>
/// Reads TensorFlow Serving's row format, <c>{"instances": [instance, …]}</c>. An instance is a nested array of numbers
/// in the model's input shape — for an input of (28, 28, 1) that is 28 × 28 × 1, or 28 × 28 (a trailing channel of 1
/// may be left out), or 784 values flat in row-major order — or an encoded image as <c>{"b64": "…base64 PNG or JPEG…"}</c>
/// (TF Serving's convention for binary data). Every problem is a <see cref="BadRequestException"/> that names the
/// instance and, for a value, its position (<c>instances[2][5][17]</c>).
/// </summary>
public static class JsonInstances
{
    /// <summary>The accepted nestings of one instance for an input shape: the shape itself, without a trailing 1, and flat.</summary>
    public static IReadOnlyList<int[]> Layouts(Shape input)
    {
        var full = input.ToKnownArray();
        var layouts = new List<int[]> { full };
        if (full.Length > 1 && full[^1] == 1) layouts.Add(full[..^1]);
        if (full.Length > 1 && (full.Length > 2 || full[^1] != 1)) layouts.Add([checked((int)input.Size!.Value)]);
        return layouts;
    }

    /// <summary>How the accepted layouts read in a message: <c>(28, 28, 1), (28, 28) or (784)</c>.</summary>
    public static string Describe(IReadOnlyList<int[]> layouts)
    {
        var texts = layouts.Select(Text).ToList();
        return texts.Count == 1 ? texts[0] : string.Join(", ", texts.Take(texts.Count - 1)) + " or " + texts[^1];
    }

    private static string Text(IEnumerable<int> dims) => "(" + string.Join(", ", dims) + ")";

    /// <summary>Parses a JSON body into instances for <paramref name="model"/>.</summary>
    /// <param name="body">The UTF-8 request body.</param>
    /// <param name="model">The served model (its input shape).</param>
    /// <param name="options">Limits: the instance count and the value range.</param>
    /// <param name="decodeImage">Turns a <c>{"b64": …}</c> instance's bytes into one instance's values (its description for messages).</param>
    /// <exception cref="BadRequestException">Anything the model cannot take, named.</exception>
    public static InstanceBatch Read(ReadOnlyMemory<byte> body, ServedModel model, ServiceOptions options, Func<byte[], string, float[]> decodeImage)
    {
        if (body.IsEmpty) throw new BadRequestException("The request body is empty; send {\"instances\": [...]}.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"The body is not valid JSON: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new BadRequestException($"Expected a JSON object {{\"instances\": [...]}}; received {Kind(root)}.");
            JsonElement? instances = null;
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "instances" when instances is null: instances = property.Value; break;
                    case "instances": throw new BadRequestException("The key 'instances' appears twice.");
                    case "signature_name": break;   // TF Serving's; this service has one signature
                    case "inputs":
                        throw new BadRequestException("The columnar format {\"inputs\": ...} is not supported; send the row format {\"instances\": [...]}.");
                    default:
                        throw new BadRequestException($"Unexpected key '{property.Name}'; the body is {{\"instances\": [...]}}.");
                }
            }
            if (instances is not { } list) throw new BadRequestException("The JSON object has no 'instances'; send {\"instances\": [...]}.");
            if (list.ValueKind != JsonValueKind.Array)
                throw new BadRequestException($"'instances' must be an array of instances; received {Kind(list)}.");
            var count = list.GetArrayLength();
            if (count == 0) throw new BadRequestException("'instances' is empty; send at least one instance.");
            if (count > options.MaxInstances)
                throw new BadRequestException($"'instances' has {count} instances; this service takes at most {options.MaxInstances} per request (--max-instances).");

            var size = model.InputSize;
            var values = new float[(long)count * size];
            var layouts = Layouts(model.InputShape);
            var i = 0;
            foreach (var instance in list.EnumerateArray())
            {
                var target = values.AsSpan(i * size, size);
                if (instance.ValueKind == JsonValueKind.Object)
                    Image(instance, i, size, decodeImage).CopyTo(target);
                else
                    ReadArray(instance, i, layouts, target, options.ValueRange);
                i++;
            }
            return new InstanceBatch(values, count);
        }
    }

    private static float[] Image(JsonElement instance, int index, int size, Func<byte[], string, float[]> decodeImage)
    {
        var name = $"instances[{index}]";
        byte[]? bytes = null;
        foreach (var property in instance.EnumerateObject())
        {
            if (property.Name != "b64" || bytes is not null)
                throw new BadRequestException($"{name} is an object; the only object an instance may be is {{\"b64\": \"<base64 PNG or JPEG>\"}}.");
            if (property.Value.ValueKind != JsonValueKind.String || !property.Value.TryGetBytesFromBase64(out bytes))
                throw new BadRequestException($"{name}.b64 must be a base64 string (an encoded PNG or JPEG).");
        }
        if (bytes is null) throw new BadRequestException($"{name} is an empty object; send {{\"b64\": \"<base64 PNG or JPEG>\"}}.");
        var values = decodeImage(bytes, name);
        return values.Length == size ? values : throw new InvalidOperationException($"The decoder gave {values.Length} values for {name}; expected {size}.");
    }

    // Finds the instance's nesting from its first elements, matches it against the accepted layouts, then copies every
    // value, checking that each array has the layout's length and each leaf is a finite number in range.
    private static void ReadArray(JsonElement instance, int index, IReadOnlyList<int[]> layouts, Span<float> target, (float Min, float Max)? range)
    {
        if (instance.ValueKind != JsonValueKind.Array)
            throw new BadRequestException(
                $"instances[{index}] is {Kind(instance)}; expected an array of shape {Describe(layouts)} or {{\"b64\": \"<base64 PNG or JPEG>\"}}.");
        var dims = new List<int>();
        var probe = instance;
        while (probe.ValueKind == JsonValueKind.Array)
        {
            var length = probe.GetArrayLength();
            dims.Add(length);
            if (length == 0) break;
            probe = probe[0];
        }
        var layout = layouts.FirstOrDefault(l => l.AsSpan().SequenceEqual(dims.ToArray()));
        if (layout is null)
        {
            // A layout's own prefix (a ragged first row, say) is reported as a wrong length where it happens.
            var nearest = layouts.FirstOrDefault(l => l.Length == dims.Count) ?? layouts[0];
            if (nearest.Length == dims.Count)
                layout = nearest;
            else
                throw new BadRequestException(
                    $"instances[{index}] has shape {Text(dims)}; model input takes instances of shape {Describe(layouts)}.");
        }
        var path = new List<int> { index };
        var position = 0;
        Fill(instance, layout, 0, path, target, ref position, range);
    }

    private static void Fill(JsonElement element, int[] layout, int depth, List<int> path, Span<float> target, ref int position, (float Min, float Max)? range)
    {
        if (depth == layout.Length)
        {
            if (element.ValueKind != JsonValueKind.Number)
                throw new BadRequestException($"{Path(path)} is {Kind(element)}, not a number.");
            if (!element.TryGetDouble(out var d) || !float.IsFinite((float)d))
                throw new BadRequestException($"{Path(path)} is {element.GetRawText()}, which is not a finite float32 number.");
            var value = (float)d;
            if (range is var (min, max) && (value < min || value > max))
                throw new BadRequestException(
                    $"{Path(path)} is {element.GetRawText()}, outside the range [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}] " +
                    "this service takes (the MNIST model reads pixels / 255; see --value-range).");
            target[position++] = value;
            return;
        }
        if (element.ValueKind != JsonValueKind.Array)
            throw new BadRequestException($"{Path(path)} is {Kind(element)}; expected an array of {layout[depth]} (instances of shape {Text(layout)}).");
        var length = element.GetArrayLength();
        if (length != layout[depth])
            throw new BadRequestException($"{Path(path)} has {length} {(length == 1 ? "element" : "elements")}; expected {layout[depth]} (instances of shape {Text(layout)}).");
        var k = 0;
        foreach (var item in element.EnumerateArray())
        {
            path.Add(k++);
            Fill(item, layout, depth + 1, path, target, ref position, range);
            path.RemoveAt(path.Count - 1);
        }
    }

    private static string Path(List<int> path)
    {
        var text = new StringBuilder("instances");
        foreach (var i in path) text.Append('[').Append(i).Append(']');
        return text.ToString();
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => $"a string ({Quote(e.GetString()!)})",
        JsonValueKind.Number => $"a number ({e.GetRawText()})",
        JsonValueKind.True or JsonValueKind.False => $"a boolean ({e.GetRawText()})",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => $"an array of {e.GetArrayLength()}",
        _ => "an object",
    };

    private static string Quote(string s) => s.Length <= 20 ? $"\"{s}\"" : $"\"{s[..20]}…\"";
}
