using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>Keras's dtype names as TorchSharp's scalar types, and back.</summary>
public static class DTypes
{
    /// <summary>The scalar type of a Keras dtype name (<c>float32</c>, <c>bfloat16</c>, <c>int32</c>, …).</summary>
    /// <exception cref="ArgumentException">A name that is not a dtype <see cref="DTypePolicy"/> knows.</exception>
    public static ScalarType ToScalarType(string dtype) => dtype switch
    {
        "float32" => ScalarType.Float32,
        "float64" => ScalarType.Float64,
        "float16" => ScalarType.Float16,
        "bfloat16" => ScalarType.BFloat16,
        "uint8" => ScalarType.Byte,
        "int8" => ScalarType.Int8,
        "int16" => ScalarType.Int16,
        "int32" => ScalarType.Int32,
        "int64" => ScalarType.Int64,
        "bool" => ScalarType.Bool,
        _ => throw new ArgumentException($"Invalid dtype: '{dtype}'.", nameof(dtype)),
    };

    /// <summary>The Keras name of a scalar type, or null for one Keras has no name for here (complex, quantized).</summary>
    public static string? Name(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Byte => "uint8",
        ScalarType.Int8 => "int8",
        ScalarType.Int16 => "int16",
        ScalarType.Int32 => "int32",
        ScalarType.Int64 => "int64",
        ScalarType.Bool => "bool",
        _ => null,
    };

    /// <summary>The policy's compute dtype.</summary>
    public static ScalarType ComputeType(this DTypePolicy policy) => ToScalarType(policy.ComputeDtype);

    /// <summary>The policy's variable (weight) dtype.</summary>
    public static ScalarType VariableType(this DTypePolicy policy) => ToScalarType(policy.VariableDtype);

    internal static bool IsFloating(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;

    internal static bool IsRealOrInteger(ScalarType type) => IsFloating(type)
        || type is ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 or ScalarType.Bool;
}
