using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Keras's other names for the pooling layers — <c>MaxPool2D</c> is <c>MaxPooling2D</c>, <c>AvgPool2D</c> is
/// <c>AveragePooling2D</c>, <c>GlobalAvgPool2D</c> is <c>GlobalAveragePooling2D</c>, … — as functions with the same arguments
/// and defaults, returning the canonical record: <c>using static Functional.Layers.LayerAliases;</c> then
/// <c>MaxPool2D(2)</c>, as in Keras's <c>layers.MaxPool2D(2)</c>.
/// </summary>
/// <remarks>
/// In Keras an alias is the same class, so these make the very same records: <c>MaxPool2D(2) == new MaxPooling2D(2)</c>,
/// and configs and summaries say <c>MaxPooling2D</c>. Configs may also name a layer by its alias
/// (see <see cref="Models.LayerConfig.KnownAliases"/>).
/// </remarks>
public static class LayerAliases
{
    /// <summary>Keras's <c>MaxPool1D</c>: <see cref="MaxPooling1D"/>.</summary>
    public static MaxPooling1D MaxPool1D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default) =>
        new(poolSize, strides, padding, dataFormat);

    /// <summary>Keras's <c>MaxPool2D</c>: <see cref="MaxPooling2D"/>.</summary>
    public static MaxPooling2D MaxPool2D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default) =>
        new(poolSize, strides, padding, dataFormat);

    /// <summary>Keras's <c>MaxPool3D</c>: <see cref="MaxPooling3D"/>.</summary>
    public static MaxPooling3D MaxPool3D(IntTuple poolSize = default, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default) =>
        new(poolSize, strides, padding, dataFormat);

    /// <summary>Keras's <c>AvgPool1D</c>: <see cref="AveragePooling1D"/>.</summary>
    public static AveragePooling1D AvgPool1D(IntTuple poolSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default) =>
        new(poolSize, strides, padding, dataFormat);

    /// <summary>Keras's <c>AvgPool2D</c>: <see cref="AveragePooling2D"/>.</summary>
    public static AveragePooling2D AvgPool2D(IntTuple poolSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default) =>
        new(poolSize, strides, padding, dataFormat);

    /// <summary>Keras's <c>AvgPool3D</c>: <see cref="AveragePooling3D"/>.</summary>
    public static AveragePooling3D AvgPool3D(IntTuple poolSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default) =>
        new(poolSize, strides, padding, dataFormat);

    /// <summary>Keras's <c>GlobalMaxPool1D</c>: <see cref="GlobalMaxPooling1D"/>.</summary>
    public static GlobalMaxPooling1D GlobalMaxPool1D(DataFormat dataFormat = default, bool keepdims = false) => new(dataFormat, keepdims);

    /// <summary>Keras's <c>GlobalMaxPool2D</c>: <see cref="GlobalMaxPooling2D"/>.</summary>
    public static GlobalMaxPooling2D GlobalMaxPool2D(DataFormat dataFormat = default, bool keepdims = false) => new(dataFormat, keepdims);

    /// <summary>Keras's <c>GlobalMaxPool3D</c>: <see cref="GlobalMaxPooling3D"/>.</summary>
    public static GlobalMaxPooling3D GlobalMaxPool3D(DataFormat dataFormat = default, bool keepdims = false) => new(dataFormat, keepdims);

    /// <summary>Keras's <c>GlobalAvgPool1D</c>: <see cref="GlobalAveragePooling1D"/>.</summary>
    public static GlobalAveragePooling1D GlobalAvgPool1D(DataFormat dataFormat = default, bool keepdims = false) => new(dataFormat, keepdims);

    /// <summary>Keras's <c>GlobalAvgPool2D</c>: <see cref="GlobalAveragePooling2D"/>.</summary>
    public static GlobalAveragePooling2D GlobalAvgPool2D(DataFormat dataFormat = default, bool keepdims = false) => new(dataFormat, keepdims);

    /// <summary>Keras's <c>GlobalAvgPool3D</c>: <see cref="GlobalAveragePooling3D"/>.</summary>
    public static GlobalAveragePooling3D GlobalAvgPool3D(DataFormat dataFormat = default, bool keepdims = false) => new(dataFormat, keepdims);
}
