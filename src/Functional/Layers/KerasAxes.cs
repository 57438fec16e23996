using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Keras's <c>axis</c> arguments count the batch axis: <c>-1</c> is the last axis, <c>1</c> the first per-sample axis,
/// <c>0</c> the batch axis. These helpers turn them into per-sample indices (batch excluded).
/// </summary>
internal static class KerasAxes
{
    /// <summary>
    /// The per-sample index of Keras axis <paramref name="axis"/> for a per-sample shape of rank <paramref name="rank"/>,
    /// or <c>null</c> when the axis is out of bounds; <c>-1</c> when it is the batch axis.
    /// </summary>
    public static int? ToSampleAxis(int axis, int rank)
    {
        var full = rank + 1;
        if (axis < -full || axis >= full) return null;
        var a = axis < 0 ? axis + full : axis;
        return a - 1;
    }

    /// <summary>Python's tuple spelling: <c>(8,)</c>, <c>(3, 4)</c>, <c>()</c>.</summary>
    public static string Tuple(IEnumerable<int> values)
    {
        var list = values.ToList();
        return list.Count == 1 ? $"({list[0]},)" : $"({string.Join(", ", list)})";
    }
}
