using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
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

    /// <summary>
    /// The summary as Keras prints it where the console is 80 columns wide (Keras's width outside a terminal): a 76-column
    /// table, cells wrapped at spaces. Keras cuts a word too long for its column with "…"; here the column widens instead,
    /// so no name, shape or count is ever cut.
    /// </summary>
    public override string ToString()
    {
        var graph = Rows.Any(r => r.ConnectedTo.Length > 0);
        string[] headers = graph
            ? ["Layer (type)", "Output Shape", "Param #", "Connected to"]
            : ["Layer (type)", "Output Shape", "Param #"];
        var texts = Rows.Select(r => new[]
        {
            $"{r.Name} ({r.ClassName})",
            r.OutputShapes.Length == 1 ? r.OutputShapes[0].ToString() : $"[{string.Join(", ", r.OutputShapes)}]",
            Count(r.Parameters),
            r.ConnectedTo.IsDefaultOrEmpty ? "-" : string.Join(", ", r.ConnectedTo),
        }.Take(headers.Length).ToArray()).ToList();
        // Keras's column widths in a 76-column table: positions [0.45, 0.8, 1] (sequential) or [0.3, 0.56, 0.74, 1] (graph).
        int[] keras = graph ? [19, 17, 10, 17] : [31, 22, 13];
        var widths = headers.Select((h, c) => Math.Max(keras[c],
            texts.Select(row => row[c]).Append(h).SelectMany(t => t.Split(' ')).Max(w => w.Length))).ToArray();
        var cells = texts.Select(row => row.Select((t, c) => Wrap(t, widths[c])).ToArray()).ToList();

        var sb = new StringBuilder();
        sb.Append("Model: \"").Append(ModelName).Append("\"\n");
        Line(sb, widths, '┏', '━', '┳', '┓');
        Row(sb, widths, headers.Select(h => new[] { h }).ToArray(), '┃');
        Line(sb, widths, '┡', '━', '╇', '┩');
        for (var i = 0; i < cells.Count; i++)
        {
            Row(sb, widths, cells[i], '│');
            if (i + 1 < cells.Count) Line(sb, widths, '├', '─', '┼', '┤');
        }
        Line(sb, widths, '└', '─', '┴', '┘');
        sb.Append(" Total params: ").Append(Count(TotalParameters)).Append(" (").Append(ReadableSize(TotalParameters)).Append(")\n");
        sb.Append(" Trainable params: ").Append(Count(TrainableParameters)).Append(" (").Append(ReadableSize(TrainableParameters)).Append(")\n");
        sb.Append(" Non-trainable params: ").Append(Count(NonTrainableParameters)).Append(" (").Append(ReadableSize(NonTrainableParameters)).Append(")\n");
        return sb.ToString();
    }

    /// <summary>Greedy word wrap at spaces, as rich does for Keras's table cells.</summary>
    private static string[] Wrap(string text, int width)
    {
        var lines = new List<string>();
        var line = "";
        foreach (var word in text.Split(' '))
        {
            if (line.Length == 0) line = word;
            else if (line.Length + 1 + word.Length <= width) line += " " + word;
            else { lines.Add(line); line = word; }
        }
        lines.Add(line);
        return [.. lines];
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

    private static void Row(StringBuilder sb, int[] widths, string[][] cells, char bar)
    {
        var lines = cells.Max(c => c.Length);
        for (var l = 0; l < lines; l++)
        {
            sb.Append(bar);
            for (var c = 0; c < widths.Length; c++)
            {
                var text = l < cells[c].Length ? cells[c][l] : "";
                // Keras right-aligns the parameter column.
                sb.Append(' ').Append(c == 2 ? text.PadLeft(widths[c]) : text.PadRight(widths[c])).Append(' ').Append(bar);
            }
            sb.Append('\n');
        }
    }
}
