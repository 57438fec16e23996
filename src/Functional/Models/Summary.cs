using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Functional.Models;

/// <summary>One row of a model summary.</summary>
/// <param name="Name">The layer name.</param>
/// <param name="ClassName">The Keras class name.</param>
/// <param name="OutputShapes">The layer's output shape(s).</param>
/// <param name="Parameters">All weights of the layer.</param>
/// <param name="ConnectedTo">For graphs: the inbound layers, e.g. <c>conv2d[0][0]</c>; empty for sequential models.</param>
public sealed record SummaryRow(string Name, string ClassName, ImmutableArray<Shape> OutputShapes, long Parameters, ImmutableArray<string> ConnectedTo);

/// <summary>
/// A model summary as data, printed in Keras 3's format: <c>Layer (type) │ Output Shape │ Param #</c> with a
/// <c>None</c> batch dimension, then Total / Trainable / Non-trainable params with their float32 size.
/// </summary>
public sealed record ModelSummary(string ModelName, ImmutableArray<SummaryRow> Rows, long TotalParameters, long TrainableParameters)
{
    /// <summary>Weights not updated by training.</summary>
    public long NonTrainableParameters => TotalParameters - TrainableParameters;

    /// <summary>Keras's <c>readable_memory_size</c> for float32 weights: <c>18.44 KB</c>, <c>0.00 B</c>.</summary>
    public static string ReadableSize(long parameters)
    {
        double bytes = parameters * 4.0;
        string[] units = ["B", "KB", "MB", "GB", "TB", "PB"];
        var i = 0;
        while (bytes >= 1024 && i < units.Length - 1) { bytes /= 1024; i++; }
        return string.Create(CultureInfo.InvariantCulture, $"{bytes:F2} {units[i]}");
    }

    /// <summary>Thousands separators, as Keras prints counts: <c>4,640</c>.</summary>
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>The summary as Keras prints it.</summary>
    public override string ToString()
    {
        var graph = Rows.Any(r => r.ConnectedTo.Length > 0);
        string[] headers = graph
            ? ["Layer (type)", "Output Shape", "Param #", "Connected to"]
            : ["Layer (type)", "Output Shape", "Param #"];
        var cells = Rows.Select(r => new[]
        {
            new[] { $"{r.Name} ({r.ClassName})" },
            r.OutputShapes.Select(s => s.ToString()).ToArray(),
            new[] { Count(r.Parameters) },
            r.ConnectedTo.IsDefaultOrEmpty ? ["-"] : r.ConnectedTo.ToArray(),
        }.Take(headers.Length).ToArray()).ToList();
        int[] minWidths = graph ? [29, 22, 11, 21] : [31, 22, 13];
        var widths = headers.Select((h, c) => Math.Max(minWidths[c],
            Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(row => row[c].Max(s => s.Length))))).ToArray();

        var sb = new StringBuilder();
        sb.Append("Model: \"").Append(ModelName).Append("\"\n");
        Line(sb, widths, '┏', '━', '┳', '┓');
        Row(sb, widths, headers.Select(h => new[] { h }).ToArray(), '┃', header: true);
        Line(sb, widths, '┡', '━', '╇', '┩');
        for (var i = 0; i < cells.Count; i++)
        {
            Row(sb, widths, cells[i], '│', header: false);
            if (i + 1 < cells.Count) Line(sb, widths, '├', '─', '┼', '┤');
        }
        Line(sb, widths, '└', '─', '┴', '┘');
        sb.Append(" Total params: ").Append(Count(TotalParameters)).Append(" (").Append(ReadableSize(TotalParameters)).Append(")\n");
        sb.Append(" Trainable params: ").Append(Count(TrainableParameters)).Append(" (").Append(ReadableSize(TrainableParameters)).Append(")\n");
        sb.Append(" Non-trainable params: ").Append(Count(NonTrainableParameters)).Append(" (").Append(ReadableSize(NonTrainableParameters)).Append(")\n");
        return sb.ToString();
    }

    private static void Line(StringBuilder sb, int[] widths, char left, char fill, char join, char right)
    {
        sb.Append(left);
        for (var c = 0; c < widths.Length; c++)
        {
            sb.Append(fill, widths[c] + 2);
            sb.Append(c + 1 < widths.Length ? join : right);
        }
        sb.Append('\n');
    }

    private static void Row(StringBuilder sb, int[] widths, string[][] cells, char bar, bool header)
    {
        var lines = cells.Max(c => c.Length);
        for (var l = 0; l < lines; l++)
        {
            sb.Append(bar);
            for (var c = 0; c < widths.Length; c++)
            {
                var text = l < cells[c].Length ? cells[c][l] : "";
                // Keras right-aligns the parameter column.
                var rightAlign = c == 2;
                sb.Append(' ').Append(rightAlign ? text.PadLeft(widths[c]) : text.PadRight(widths[c])).Append(' ').Append(bar);
            }
            sb.Append('\n');
        }
        _ = header;
    }
}
