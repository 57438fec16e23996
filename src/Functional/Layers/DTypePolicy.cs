using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Keras's dtype policy: the dtype a layer computes in (<see cref="ComputeDtype"/>) and the dtype its weights are stored in
/// (<see cref="VariableDtype"/>). <c>float32</c>, <c>float64</c>, <c>float16</c> and <c>bfloat16</c> use one dtype for both;
/// <c>mixed_float16</c> and <c>mixed_bfloat16</c> compute in the 16-bit type and keep float32 weights (mixed precision).
/// Integer and bool names (<c>int32</c>, …) are dtypes for an <see cref="Input"/> that carries indices, and <c>string</c>
/// for one that carries raw strings to string preprocessing layers (<see cref="TextVectorization"/>, <see cref="StringLookup"/>).
/// </summary>
/// <remarks>
/// <para>Every layer record has a <see cref="Layer.Dtype"/>. A layer made without one takes the policy in force when the
/// record is constructed — <see cref="Default"/>, or the innermost <see cref="Use"/> scope on this thread of execution —
/// as Keras resolves <c>dtype=None</c> in the layer's constructor. So set the policy before declaring the model.</para>
/// <para>Strings convert implicitly: <c>new Dense(10) { Dtype = "mixed_bfloat16" }</c>.</para>
/// </remarks>
public sealed record DTypePolicy
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        // Keras's standardize_dtype: Python's int and float, and torch's spellings.
        ["int"] = "int64", ["float"] = "float32", ["double"] = "float64", ["half"] = "float16",
    };

    /// <summary>The floating-point dtype names a policy may compute in.</summary>
    public static IReadOnlyList<string> FloatDtypes { get; } = ["float16", "bfloat16", "float32", "float64"];

    /// <summary>The integer and bool dtype names an <see cref="Input"/> may carry.</summary>
    public static IReadOnlyList<string> IntegerDtypes { get; } = ["uint8", "int8", "int16", "int32", "int64", "bool"];

    /// <summary>Parses a policy name as Keras's <c>DTypePolicy(name)</c> does.</summary>
    /// <exception cref="ArgumentException">A name that is neither a mixed policy nor a dtype; Keras's message.</exception>
    public DTypePolicy(string name)
    {
        if (name is null)
            throw new ArgumentException("'name' must be a string, such as 'mixed_float16'. Received: name=None", nameof(name));
        (ComputeDtype, VariableDtype) = Parse(name);
        Name = name == "mixed_float16" || name == "mixed_bfloat16" ? name : ComputeDtype;
    }

    /// <summary>The policy's name, e.g. <c>mixed_bfloat16</c> or <c>float32</c> (a dtype alias is written in its standard form).</summary>
    public string Name { get; }

    /// <summary>The dtype of the layer's computations and outputs (Keras's <c>compute_dtype</c>).</summary>
    public string ComputeDtype { get; }

    /// <summary>The dtype of the layer's weights (Keras's <c>variable_dtype</c>).</summary>
    public string VariableDtype { get; }

    /// <summary>Whether computations and weights use different dtypes (the mixed policies).</summary>
    public bool IsMixed => ComputeDtype != VariableDtype;

    /// <summary>Whether the policy computes in a floating-point dtype (every policy a layer other than Input may have).</summary>
    public bool IsFloating => FloatDtypes.Contains(ComputeDtype);

    /// <summary>Keras's default: <c>float32</c>.</summary>
    public static DTypePolicy Float32 { get; } = new("float32");

    /// <summary><c>float64</c> computations and weights.</summary>
    public static DTypePolicy Float64 { get; } = new("float64");

    /// <summary><c>float16</c> computations and weights.</summary>
    public static DTypePolicy Float16 { get; } = new("float16");

    /// <summary><c>bfloat16</c> computations and weights.</summary>
    public static DTypePolicy BFloat16 { get; } = new("bfloat16");

    /// <summary>float16 computations, float32 weights; training wraps the optimizer in a loss-scale optimizer.</summary>
    public static DTypePolicy MixedFloat16 { get; } = new("mixed_float16");

    /// <summary>bfloat16 computations, float32 weights.</summary>
    public static DTypePolicy MixedBFloat16 { get; } = new("mixed_bfloat16");

    private static (string Compute, string Variable) Parse(string name)
    {
        if (name == "mixed_float16") return ("float16", "float32");
        if (name == "mixed_bfloat16") return ("bfloat16", "float32");
        var dtype = Aliases.TryGetValue(name, out var standard) ? standard : name;
        if (FloatDtypes.Contains(dtype) || IntegerDtypes.Contains(dtype) || dtype == "string") return (dtype, dtype);
        throw new ArgumentException(
            $"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid policies include 'mixed_float16', 'mixed_bfloat16', " +
            "and the name of any float dtype such as 'float32'.", nameof(name));
    }

    /// <summary>The policy of this name (Keras's <c>DTypePolicy(name)</c>).</summary>
    public static implicit operator DTypePolicy(string name) => new(name);

    /// <summary>The name.</summary>
    public override string ToString() => Name;

    // ---------------------------------------------------------------- the global default

    private static volatile DTypePolicy global = Float32;
    private static readonly AsyncLocal<DTypePolicy?> scoped = new();

    /// <summary>
    /// The process-wide default policy (Keras's <c>keras.config.set_dtype_policy</c> / <c>dtype_policy()</c>); float32 unless
    /// set. Reads and writes are atomic, so any thread may set it, and layers constructed afterwards on any thread take it.
    /// </summary>
    /// <exception cref="ArgumentNullException">Set to null.</exception>
    /// <exception cref="ArgumentException">Set to an integer policy (a model's layers compute in floating point).</exception>
    public static DTypePolicy Default
    {
        get => global;
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(Default));
            global = RequireFloating(value, "policy");
        }
    }

    /// <summary>The policy a layer constructed now without a dtype takes: the innermost <see cref="Use"/> scope, else <see cref="Default"/>.</summary>
    public static DTypePolicy Current => scoped.Value ?? global;

    /// <summary>
    /// Makes <paramref name="policy"/> the default for layers constructed in this thread of execution (and the tasks it
    /// starts) until the returned value is disposed; other threads keep <see cref="Default"/>. Scopes nest.
    /// </summary>
    public static IDisposable Use(DTypePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        RequireFloating(policy, "policy");
        var previous = scoped.Value;
        scoped.Value = policy;
        return new Restore(previous);
    }

    private sealed class Restore(DTypePolicy? previous) : IDisposable
    {
        private bool done;
        public void Dispose()
        {
            if (done) return;
            done = true;
            scoped.Value = previous;
        }
    }

    internal static DTypePolicy RequireFloating(DTypePolicy policy, string argument) =>
        policy.IsFloating ? policy
            : throw new ArgumentException(
                $"Invalid `{argument}` argument: expected a floating-point dtype policy ({string.Join(", ", FloatDtypes)}, mixed_float16 " +
                $"or mixed_bfloat16). Received: {argument}='{policy.Name}'.", argument);
}
