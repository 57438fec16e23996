using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using System.Collections.Frozen;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Functional.Models;

/// <summary>
/// A config document that cannot be read: the message starts with the JSON path of the offending value
/// (<c>$.config.layers[3].config.kernel_size</c>) and says what was expected and what was found.
/// </summary>
public sealed class ModelConfigException : JsonException
{
    /// <summary>Creates the error for a value at <paramref name="path"/>.</summary>
    public ModelConfigException(string path, string problem, Exception? inner = null)
        : base($"{Excerpt.Of(path)}: {Bounded(problem)}", Excerpt.Of(path), null, null, inner) => JsonPath = Excerpt.Of(path);

    // Every quotation of input in a problem is meant to be an excerpt; this is the backstop, so that no message is ever
    // as long as a hostile document (the start and the end of the problem say what and why).
    private static string Bounded(string problem) =>
        problem.Length <= 2 * Excerpt.MaxChars + 200 ? problem
            : $"{problem[..(Excerpt.MaxChars + 100)]} … {problem[^(Excerpt.MaxChars)..]} ({problem.Length:N0} characters in all)";

    /// <summary>The JSON path of the offending value.</summary>
    public string JsonPath { get; }
}

/// <summary>
/// How a record becomes a Keras config and back, found by reflection so that every layer (and initializer,
/// regularizer, constraint) is covered without per-class code: the keys are the snake-case names of the record's
/// Keras constructor parameters (<c>kernelSize</c> → <c>kernel_size</c>), then its other <c>init</c> properties
/// (<c>name</c>, <c>trainable</c>, …). Each parameter is read back through the property that holds it.
/// </summary>
internal sealed class RecordConfig
{
    private static readonly ConcurrentDictionary<Type, RecordConfig> Cache = new();

    /// <summary>Keys every layer config may carry that this library does not store (Keras writes them).</summary>
    private static readonly HashSet<string> Ignored = ["module", "registered_name", "build_config"];

    private RecordConfig(Type type)
    {
        Type = type;
        var ctors = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance)
            .Where(c => !(c.GetParameters() is [var p] && p.ParameterType == type)).ToList();
        if (ctors.Count == 0) throw new NotSupportedException($"{type.Name} has no public constructor, so it cannot be read from a config.");
        Constructor = ctors.OrderByDescending(c => c.GetParameters().Length)
            .ThenBy(c => c.GetParameters().Any(p => p.IsDefined(typeof(ParamArrayAttribute)))).First();
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0).ToList();
        var claimed = new HashSet<PropertyInfo>();
        var members = new List<Member>();
        foreach (var p in Constructor.GetParameters())
        {
            var property = Match(p, properties, claimed)
                ?? throw new NotSupportedException(
                    $"{type.Name}: constructor parameter '{p.Name}' has no property holding its value, so {type.Name} cannot be written as a config.");
            claimed.Add(property);
            members.Add(new Member(Key(p.Name!), p.ParameterType, property, p));
        }
        foreach (var property in properties.Where(p => !claimed.Contains(p) && p.SetMethod is { IsPublic: true }))
            members.Add(new Member(Key(property.Name), property.PropertyType, property, null));
        Members = [.. members];
        Parameters = Constructor.GetParameters();
        ConstructorMembers = [.. members.Where(m => m.Parameter is not null)];
        InitMembers = [.. members.Where(m => m.Parameter is null)];
        Keys = members.Select(m => m.Key).ToFrozenSet(StringComparer.Ordinal);
    }

    // What Read needs on every call, worked out once per type.
    private ParameterInfo[] Parameters { get; }
    private Member[] ConstructorMembers { get; }
    private Member[] InitMembers { get; }

    /// <summary>Every config key of the record.</summary>
    public FrozenSet<string> Keys { get; }

    public Type Type { get; }
    public ConstructorInfo Constructor { get; }
    public ImmutableArray<Member> Members { get; }

    /// <summary>One config key: the constructor parameter (null for init-only properties) and the property holding it.</summary>
    public sealed record Member(string Key, Type Type, PropertyInfo Property, ParameterInfo? Parameter);

    public static RecordConfig For(Type type) => Cache.GetOrAdd(type, t => new RecordConfig(t));

    /// <summary>Keras's snake case for a .NET name: <c>kernelSize</c> → <c>kernel_size</c>, <c>L1</c> → <c>l1</c>.</summary>
    public static string Key(string name) => Layer.ToSnakeCase(name);

    // The property for a constructor parameter: same name; else a unique one whose name starts with it (L1L2's l1 →
    // L1Factor); else the only unclaimed property of the parameter's type (Activation's activation → Function).
    private static PropertyInfo? Match(ParameterInfo p, List<PropertyInfo> properties, HashSet<PropertyInfo> claimed)
    {
        var free = properties.Where(q => !claimed.Contains(q)).ToList();
        var byName = free.Where(q => string.Equals(q.Name, p.Name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (byName.Count == 1) return byName[0];
        var byPrefix = free.Where(q => q.Name.StartsWith(p.Name!, StringComparison.OrdinalIgnoreCase)).ToList();
        if (byPrefix.Count == 1) return byPrefix[0];
        var type = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
        var byType = free.Where(q => (Nullable.GetUnderlyingType(q.PropertyType) ?? q.PropertyType) == type
                                     && q.DeclaringType != typeof(Layer)).ToList();
        return byType.Count == 1 ? byType[0] : null;
    }

    /// <summary>
    /// The record's config object: every constructor argument (but a <c>null</c> one Keras leaves out, marked
    /// <see cref="ConfigOmittedWhenNullAttribute"/>, such as <c>lora_rank</c>), a layer's name and trainable flag, and any other
    /// <c>init</c> property whose value differs from what the constructor alone gives (so <c>GlorotUniform</c> is
    /// <c>{"seed": null}</c>, as in Keras, not its inherited VarianceScaling settings).
    /// </summary>
    public JsonObject Write(object record, string describe)
    {
        var config = new JsonObject();
        object? reference = null;
        foreach (var m in Members)
        {
            var value = m.Property.GetValue(record);
            if (value is null && m.Property.IsDefined(typeof(ConfigOmittedWhenNullAttribute))) continue;
            if (m.Parameter is null && !(m.Property.DeclaringType == typeof(Layer) && m.Key is "name" or "trainable" or "dtype"))
            {
                reference ??= Reconstruct(record);
                if (reference is not null && Equals(m.Property.GetValue(reference), value)) continue;
            }
            config[m.Key] = ConfigValues.Write(value, m.Type, $"{describe}.{m.Key}");
        }
        return config;
    }

    // The record made from its constructor arguments alone, or null if that fails.
    private object? Reconstruct(object record)
    {
        try { return Constructor.Invoke([.. Members.Where(m => m.Parameter is not null).Select(m => m.Property.GetValue(record))]); }
        catch (TargetInvocationException) { return null; }
        catch (ArgumentException) { return null; }
    }

    /// <summary>
    /// Constructs the record from a config object; every problem names the JSON path. <paramref name="alsoAllowed"/> keys are
    /// skipped (the caller reads them); <paramref name="renamed"/> maps old key names Keras still accepts to the current ones
    /// (LeakyReLU's <c>alpha</c> → <c>negative_slope</c>): the old name wins when both are given, as in Keras, and errors
    /// name the key as written.
    /// </summary>
    public object Read(JsonObject config, string path, string className, IReadOnlySet<string>? alsoAllowed = null,
        IReadOnlyDictionary<string, string>? renamed = null)
    {
        // The key a member's value is written under.
        string Written(string key)
        {
            if (renamed is not null)
                foreach (var (old, current) in renamed)
                    if (current == key && config.ContainsKey(old)) return old;
            return key;
        }
        foreach (var (key, value) in config)
        {
            if (Keys.Contains(key) || Ignored.Contains(key) || (alsoAllowed?.Contains(key) ?? false)
                || (renamed?.ContainsKey(key) ?? false)) continue;
            // Keras 2 writes a dtype into initializer configs; it is checked to be a dtype, and unused.
            if (key == "dtype" && value is not null) { ConfigValues.ReadPolicy(value, $"{path}.dtype"); continue; }
            if (value is null) continue;   // an option Keras writes at its default (e.g. lora_rank: null)
            throw new ModelConfigException($"{path}.{key}",
                $"{className} has no argument '{key}'. Known: {string.Join(", ", Members.Select(m => m.Key))}.");
        }
        var parameters = Parameters;
        var args = new object?[parameters.Length];
        var ctorMembers = ConstructorMembers;
        for (var i = 0; i < parameters.Length; i++)
        {
            var m = ctorMembers[i];
            if (config.TryGetPropertyValue(Written(m.Key), out var node))
                args[i] = ConfigValues.Read(node, m.Type, $"{path}.{Written(m.Key)}");
            else if (parameters[i].HasDefaultValue)
                args[i] = parameters[i].DefaultValue is null && parameters[i].ParameterType.IsValueType
                    ? Activator.CreateInstance(parameters[i].ParameterType)
                    : parameters[i].DefaultValue;
            else if (parameters[i].IsDefined(typeof(ParamArrayAttribute)))
                args[i] = Array.CreateInstance(parameters[i].ParameterType.GetElementType()!, 0);
            else
                throw new ModelConfigException(path, $"missing field '{m.Key}' ({className} requires it).");
        }
        object record;
        try { record = Constructor.Invoke(args); }
        catch (TargetInvocationException e) when (e.InnerException is ArgumentException a) { throw Rejected(a, path, Written); }
        foreach (var m in InitMembers)
            if (config.TryGetPropertyValue(Written(m.Key), out var node))
            {
                var value = ConfigValues.Read(node, m.Type, $"{path}.{Written(m.Key)}");
                try { m.Property.SetValue(record, value); }
                catch (TargetInvocationException e) when (e.InnerException is ArgumentException a) { throw Rejected(a, path, Written); }
            }
        return record;
    }

    // The record rejected a value: point at the key of the argument it names, when it names one.
    private ModelConfigException Rejected(ArgumentException e, string path, Func<string, string> written)
    {
        var key = e.ParamName is { } p ? Key(p) : null;
        var at = key is not null && Members.Any(m => m.Key == key) ? $"{path}.{written(key)}" : path;
        var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "");
        return new ModelConfigException(at, message, e);
    }
}

/// <summary>Plain values in configs: numbers, strings, tuples, shapes, options, activations and nested config objects.</summary>
internal static class ConfigValues
{
    /// <summary>The abstract record families written as <c>{"class_name", "config"}</c> objects, with Keras's module names.</summary>
    private static readonly (Type Base, string Module)[] Families =
    [
        (typeof(Initializer), "keras.initializers"),
        (typeof(Regularizer), "keras.regularizers"),
        (typeof(Constraint), "keras.constraints"),
    ];

    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, Type>> Subclasses = new();

    /// <summary>Registers a concrete initializer, regularizer or constraint type defined outside this library.</summary>
    public static void Register(Type type)
    {
        var family = Families.FirstOrDefault(f => f.Base.IsAssignableFrom(type)).Base
            ?? throw new ArgumentException($"{type.Name} is not an Initializer, Regularizer or Constraint.", nameof(type));
        // Copy, add, publish: under a lock, so two registrations at once never lose one.
        lock (Subclasses)
        {
            var known = new Dictionary<string, Type>(ClassesOf(family)) { [ClassName(type)] = type };
            Subclasses[family] = known;
        }
    }

    internal static IReadOnlyDictionary<string, Type> ClassesOf(Type family) => Subclasses.GetOrAdd(family, f =>
        f.Assembly.GetTypes().Where(t => !t.IsAbstract && f.IsAssignableFrom(t) && t.IsPublic)
            .ToDictionary(ClassName, t => t));

    private static string ClassName(Type t) => t.Name;

    public static JsonNode? Write(object? value, Type type, string describe)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        switch (value)
        {
            case null: return null;
            case bool or int or long or double or float or string or short or byte: return JsonValue.Create(value);
            case Enum e: return JsonValue.Create(Layer.ToSnakeCase(e.ToString()));
            case IntTuple t: return t.Count == 0 ? null : new JsonArray([.. t.Select(v => (JsonNode?)JsonValue.Create(v))]);
            case Shape s: return new JsonArray([.. s.Select(v => (JsonNode?)JsonValue.Create(v))]);
            case SidePairs p when !p.IsGiven: return null;
            case SidePairs p:
                var pairs = p.IsPairs ? p : p.Expand(p.Count, describe, describe);
                return new JsonArray([.. Enumerable.Range(0, pairs.Count).Select(i => (JsonNode?)new JsonArray(pairs[i].Before, pairs[i].After))]);
            case ActivationFunction a: return JsonValue.Create(a.Name);
            case FloatTuple f when !f.IsGiven: return null;
            case FloatTuple f: return f.IsScalar ? JsonValue.Create(f[0]) : new JsonArray([.. f.Select(v => (JsonNode?)JsonValue.Create(v))]);
            case Layer l: return LayerConfig.Serialize(l);
            case RenormClipping c: return WriteRenormClipping(c);
            case DTypePolicy policy: return WritePolicy(policy);
            case Delegate:
                throw new NotSupportedException(
                    $"{describe} holds code ({value.GetType().Name}); code cannot be written to a config and is never loaded from one.");
        }
        foreach (var (family, module) in Families)
            if (family.IsInstanceOfType(value))
                return new JsonObject
                {
                    ["module"] = module,
                    ["class_name"] = ClassName(value.GetType()),
                    ["config"] = RecordConfig.For(value.GetType()).Write(value, describe),
                    ["registered_name"] = null,
                };
        if (type.IsValueType && FromString(type) is not null) return JsonValue.Create(value.ToString());
        if (value is IEnumerable items and not string)
        {
            var element = type.IsArray ? type.GetElementType()! : type.GetGenericArguments().FirstOrDefault() ?? typeof(object);
            return new JsonArray([.. items.Cast<object?>().Select((x, i) => Write(x, element, $"{describe}[{i}]"))]);
        }
        throw new NotSupportedException($"{describe}: values of type {type.Name} cannot be written to a config.");
    }

    public static object? Read(JsonNode? node, Type declared, string path)
    {
        var type = Nullable.GetUnderlyingType(declared) ?? declared;
        if (node is null)
        {
            if (type == typeof(IntTuple)) return default(IntTuple);
            if (type == typeof(FloatTuple)) return default(FloatTuple);
            if (!declared.IsValueType || Nullable.GetUnderlyingType(declared) is not null) return null;
            throw Expected(path, Describe(type), node);
        }
        if (type == typeof(int)) return Integer(node, path);
        if (type == typeof(long)) return node is JsonValue v && v.TryGetValue<long>(out var l) ? l : throw Expected(path, "an integer", node);
        if (type == typeof(double) || type == typeof(float))
        {
            if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) throw Expected(path, "a number", node);
            return type == typeof(double) ? v.GetValue<double>() : (object)v.GetValue<float>();
        }
        if (type == typeof(bool))
            return node.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? node.GetValue<bool>() : throw Expected(path, "true or false", node);
        if (type == typeof(string)) return Text(node, path, "a string");
        if (type == typeof(DTypePolicy)) return ReadPolicy(node, path);
        if (type.IsEnum)
        {
            var text = Text(node, path, $"one of {string.Join(", ", Enum.GetNames(type).Select(n => $"'{Layer.ToSnakeCase(n)}'"))}");
            return Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, text.Replace("_", ""), StringComparison.OrdinalIgnoreCase)) is { } name
                ? Enum.Parse(type, name)
                : throw Expected(path, $"one of {string.Join(", ", Enum.GetNames(type).Select(n => $"'{Layer.ToSnakeCase(n)}'"))}", node);
        }
        if (type == typeof(IntTuple))
            return node is JsonArray a ? new IntTuple(Integers(a, path))
                : node.GetValueKind() == JsonValueKind.Number ? IntTuple.Integer(Integer(node, path))
                : throw Expected(path, "an integer or a list of integers", node);
        if (type == typeof(FloatTuple))
            return node is JsonArray fs ? FloatTuple.List(Numbers(fs, path))
                : new FloatTuple((double)Read(node, typeof(double), path)!);
        if (type == typeof(Shape))
            return node is JsonArray s ? Dimensions(s, path, skip: 0) : throw Expected(path, "a list of positive integers (null for an unknown dimension)", node);
        if (type == typeof(SidePairs))
            return node switch
            {
                JsonValue when node.GetValueKind() == JsonValueKind.Number => Guard(path, () => new SidePairs(Integer(node, path))),
                // Any pair makes it a list of pairs, so a stray element is reported where it stands ([[1, 2], "3"] at [1]).
                JsonArray a when ListOf(a).EnumerateArray().Any(x => x.ValueKind == JsonValueKind.Array) =>
                    Guard(path, () => SidePairs.FromPairs(ListOf(a).EnumerateArray().Select((x, i) =>
                        x.ValueKind == JsonValueKind.Array && x.GetArrayLength() == 2
                            ? (Integer(x[0], $"{path}[{i}]", 0), Integer(x[1], $"{path}[{i}]", 1))
                            : throw Expected($"{path}[{i}]", "a pair [before, after]", NodeOf(x))).ToArray())),
                JsonArray a => Guard(path, () => SidePairs.Symmetric(Integers(a, path))),
                _ => throw Expected(path, "an integer, a list of integers or a list of [before, after] pairs", node),
            };
        if (type == typeof(ActivationFunction))
            return Guard(path, () => new ActivationFunction(Text(node, path, "an activation name such as 'relu'")));
        if (typeof(Layer).IsAssignableFrom(type)) return LayerConfig.Deserialize(node, path);
        if (type == typeof(RenormClipping)) return ReadRenormClipping(node, path);
        if (typeof(Delegate).IsAssignableFrom(type))
            throw new ModelConfigException(path, "this argument holds code, which is never loaded from a config.");
        foreach (var (family, _) in Families)
            if (family.IsAssignableFrom(type))
                return ReadFamily(node, family, type, path);
        if (type.IsValueType && FromString(type) is { } parse)
            return Guard(path, () => parse(Text(node, path, "a string")));
        if (type.IsArray && node is JsonArray items)
        {
            var element = type.GetElementType()!;
            var array = Array.CreateInstance(element, items.Count);
            for (var i = 0; i < items.Count; i++) array.SetValue(Read(items[i], element, $"{path}[{i}]"), i);
            return array;
        }
        throw new ModelConfigException(path, $"values of type {type.Name} cannot be read from a config.");
    }

    private static JsonObject WriteRenormClipping(RenormClipping clipping)
    {
        var o = new JsonObject();
        foreach (var (key, value) in clipping.Entries()) o[key] = value;
        return o;
    }

    // Keras's renorm_clipping dictionary: only the keys rmax, rmin and dmax, each a number.
    private static RenormClipping ReadRenormClipping(JsonNode node, string path)
    {
        if (node is not JsonObject o) throw Expected(path, "an object with the optional keys 'rmax', 'rmin' and 'dmax'", node);
        foreach (var (key, _) in o)
            if (!RenormClipping.Keys.Contains(key))
                throw new ModelConfigException($"{path}.{key}",
                    $"invalid key '{key}' for renorm_clipping. Supported keys: {string.Join(", ", RenormClipping.Keys.Select(k => $"'{k}'"))}.");
        double? Bound(string key) => o[key] is { } v ? (double)Read(v, typeof(double), $"{path}.{key}")! : null;
        return new RenormClipping(Bound("rmax"), Bound("rmin"), Bound("dmax"));
    }

    /// <summary>
    /// A batch-first shape (<c>[null, 28, 28, 1]</c>, Keras's <c>batch_shape</c> and <c>batch_input_shape</c>): the per-sample
    /// dimensions after the batch entry; an error names the dimension's index in the list as written.
    /// </summary>
    public static Shape BatchShape(JsonNode? node, string path) =>
        node is JsonArray { Count: > 0 } batch ? Dimensions(batch, path, skip: 1) : throw Expected(path, "a list [batch, dims...]", node);

    // The dimensions of a shape list from index `skip` on, each error at its own index in the list.
    private static Shape Dimensions(JsonArray list, string path, int skip)
    {
        var items = ListOf(list);
        var dims = new int?[Math.Max(items.GetArrayLength() - skip, 0)];
        var i = 0;
        foreach (var item in items.EnumerateArray())
        {
            // null is Keras's None: an unknown dimension.
            if (i >= skip)
                dims[i - skip] = item.ValueKind == JsonValueKind.Null ? null : Dimension(Integer(item, path, i), $"{path}[{i}]");
            i++;
        }
        return (Shape)Guard(path, () => new Shape(dims));
    }

    private static int Dimension(int value, string path) => value > 0 ? value
        : throw new ModelConfigException(path, $"expected a positive integer or null (None) for a dimension, got {value}.");

    private static object ReadFamily(JsonNode node, Type family, Type declared, string path)
    {
        if (node.GetValueKind() == JsonValueKind.String)
            return Guard(path, () => FromString(family)!(node.GetValue<string>()));
        if (node is not JsonObject o)
            throw Expected(path, $"a {family.Name.ToLowerInvariant()} (an identifier string or {{\"class_name\": …, \"config\": {{…}}}})", node);
        var className = Text(o["class_name"], $"{path}.class_name", "a class name");
        var classes = ClassesOf(family);
        if (!classes.TryGetValue(className, out var type) || !declared.IsAssignableFrom(type))
            throw new ModelConfigException($"{path}.class_name",
                $"unknown {family.Name.ToLowerInvariant()} class '{className}'. Known: {string.Join(", ", classes.Keys.Order())}.");
        var config = o["config"] switch
        {
            null => new JsonObject(),
            JsonObject c => c,
            var other => throw Expected($"{path}.config", "an object", other),
        };
        return RecordConfig.For(type).Read(config, $"{path}.config", className);
    }

    /// <summary>A string-to-value conversion the type offers: an implicit conversion or a static <c>Parse(string)</c>.</summary>
    private static Func<string, object>? FromString(Type type)
    {
        var method = type.GetMethods(BindingFlags.Public | BindingFlags.Static).FirstOrDefault(m =>
            (m.Name == "op_Implicit" || m.Name == "Parse") && m.ReturnType == type && m.GetParameters() is [{ ParameterType: var p }] && p == typeof(string));
        return method is null ? null : s =>
        {
            try { return method.Invoke(null, [s])!; }
            catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
        };
    }

    /// <summary>Keras 3's form of a dtype policy: <c>{"module": "keras", "class_name": "DTypePolicy", "config": {"name": …}, "registered_name": null}</c>.</summary>
    public static JsonObject WritePolicy(DTypePolicy policy) => new()
    {
        ["module"] = "keras",
        ["class_name"] = "DTypePolicy",
        ["config"] = new JsonObject { ["name"] = policy.Name },
        ["registered_name"] = null,
    };

    /// <summary>
    /// A dtype policy as Keras writes it: a plain name (<c>"float32"</c>, <c>"mixed_float16"</c>; Keras 2 and older Keras 3),
    /// or an object whose class is <c>DTypePolicy</c> (Keras 3), <c>FloatDTypePolicy</c> (Keras 3.0–3.3) or <c>Policy</c>
    /// (Keras 2's mixed precision) with the name in its config. Quantized policies are refused.
    /// </summary>
    public static DTypePolicy ReadPolicy(JsonNode node, string path)
    {
        string name;
        if (node is JsonObject o)
        {
            var className = Text(o["class_name"], $"{path}.class_name", "a dtype policy class name");
            if (className is not ("DTypePolicy" or "FloatDTypePolicy" or "Policy"))
                throw new ModelConfigException($"{path}.class_name",
                    $"unsupported dtype policy class '{className}' (quantized policies are not supported); expected DTypePolicy.");
            if (o["config"] is not JsonObject c) throw Expected($"{path}.config", "an object", o["config"]);
            name = Text(c["name"], $"{path}.config.name", "a dtype policy name");
            path = $"{path}.config.name";
        }
        else name = Text(node, path, "a dtype policy name or a DTypePolicy object");
        try { return new DTypePolicy(name); }
        catch (ArgumentException e) { throw new ModelConfigException(path, e.Message.Replace(" (Parameter 'name')", ""), e); }
    }

    /// <summary>
    /// A list read from its JSON text rather than as nodes: a node per element costs about 100 bytes where a small number
    /// takes two or three bytes of text, so a long list of numbers read as nodes takes tens of times the document.
    /// (Writing a parsed, untouched <see cref="JsonArray"/> copies its text without making its element nodes.)
    /// </summary>
    private static JsonElement ListOf(JsonArray list) => JsonSerializer.SerializeToElement(list);

    private static JsonNode? NodeOf(JsonElement element) => JsonSerializer.SerializeToNode(element);

    private static int[] Integers(JsonArray list, string path)
    {
        var items = ListOf(list);
        var values = new int[items.GetArrayLength()];
        var i = 0;
        foreach (var item in items.EnumerateArray()) { values[i] = Integer(item, path, i); i++; }
        return values;
    }

    private static double[] Numbers(JsonArray list, string path)
    {
        var items = ListOf(list);
        var values = new double[items.GetArrayLength()];
        var i = 0;
        foreach (var item in items.EnumerateArray())
        {
            values[i] = item.ValueKind == JsonValueKind.Number ? item.GetDouble() : throw Expected($"{path}[{i}]", "a number", NodeOf(item));
            i++;
        }
        return values;
    }

    // An element of a list: its path is made only for an error, so long lists of numbers cost no strings.
    private static int Integer(JsonElement item, string list, int index) =>
        item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var i) ? i : throw Expected($"{list}[{index}]", "an integer", NodeOf(item));

    private static int Integer(JsonNode? node, string path) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : throw Expected(path, "an integer", node);

    public static string Text(JsonNode? node, string path, string expected) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw Expected(path, expected, node);

    private static object Guard(string path, Func<object> read)
    {
        try { return read(); }
        catch (ArgumentException e)
        {
            var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "");
            throw new ModelConfigException(path, message, e);
        }
    }

    public static ModelConfigException Expected(string path, string expected, JsonNode? found) =>
        new(path, $"expected {expected}, got {Found(found)}.");

    private static string Found(JsonNode? node) => node is null ? "null" : $"{Quote(node)} ({node.GetValueKind().ToString().ToLowerInvariant()})";

    /// <summary>
    /// The value as compact JSON, cut after about <see cref="Excerpt.MaxChars"/> characters with "…": a hostile value
    /// (a 50 MB string, a list of a million items) is never copied whole into a message.
    /// </summary>
    internal static string Quote(JsonNode? node)
    {
        var sb = new System.Text.StringBuilder();
        // Depth is bounded by the parser's maximum depth (64 by default), so this recursion is too.
        bool Write(JsonNode? n)
        {
            if (sb.Length > Excerpt.MaxChars) return false;
            switch (n)
            {
                case null: sb.Append("null"); break;
                case JsonObject o:
                    sb.Append('{');
                    var first = true;
                    foreach (var (key, value) in o)
                    {
                        if (!first) sb.Append(", ");
                        first = false;
                        sb.Append(JsonSerializer.Serialize(Excerpt.Of(key))).Append(": ");
                        if (!Write(value)) return false;
                    }
                    sb.Append('}');
                    break;
                case JsonArray a:
                    sb.Append('[');
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (i > 0) sb.Append(", ");
                        if (!Write(a[i])) return false;
                    }
                    sb.Append(']');
                    break;
                default:
                    var v = n.AsValue();
                    sb.Append(v.TryGetValue<string>(out var text) ? JsonSerializer.Serialize(Excerpt.Of(text)) : v.ToJsonString());
                    break;
            }
            return sb.Length <= Excerpt.MaxChars;
        }
        return Write(node) ? sb.ToString() : sb.ToString(0, Math.Min(sb.Length, Excerpt.MaxChars)) + "…";
    }

    private static string Describe(Type type) =>
        type == typeof(int) || type == typeof(long) ? "an integer"
        : type == typeof(double) || type == typeof(float) ? "a number"
        : type == typeof(bool) ? "true or false"
        : $"a value of type {type.Name}";
}
