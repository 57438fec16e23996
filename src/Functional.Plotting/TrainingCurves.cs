using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Training;
using Functional.Torch.Training;
using System.Globalization;
using System.Net;
using System.Text;
using ScottPlot;

namespace Functional.Plotting;

/// <summary>
/// Training-curve pictures from a <see cref="History"/>, drawn with ScottPlot: one panel for the loss and one per metric,
/// each with its validation curve when there is one, against the epoch (1-based, as Keras prints them).
/// PNG and SVG are images; HTML embeds the SVG panels and a table of the values.
/// </summary>
public static class TrainingCurves
{
    /// <summary>Writes the training-curve picture of <paramref name="history"/>: <c>.png</c>, <c>.svg</c> or <c>.html</c> (by
    /// extension). An extension method, so <c>history.SavePlot(path)</c> reads as Keras users expect once this package is referenced.</summary>
    /// <exception cref="ArgumentException">Another extension, or a history with no epochs.</exception>
    public static void SavePlot(this History history, string path, string? title = null) => Save(history, path, title);

    /// <summary>Writes <paramref name="path"/> as PNG, SVG or HTML according to its extension.</summary>
    /// <exception cref="ArgumentException">Another extension, or a history with no epochs.</exception>
    public static void Save(History history, string path, string? title = null, int width = 800, int panelHeight = 320)
    {
        ArgumentNullException.ThrowIfNull(history);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (history.Epochs.Count == 0) throw new ArgumentException("The history has no epochs to plot.", nameof(history));
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        switch (ext)
        {
            case ".png":
            {
                var plots = Panels(history, title);
                var multiplot = new Multiplot(plots[0]);
                foreach (var p in plots.Skip(1)) multiplot.AddPlot(p);
                multiplot.SavePng(path, width, panelHeight * plots.Count);
                break;
            }
            case ".svg":
            {
                var plots = Panels(history, title);
                File.WriteAllText(path, plots[0].GetSvgXml(width, panelHeight));
                break;
            }
            case ".html" or ".htm":
                File.WriteAllText(path, Html(history, title, width, panelHeight));
                break;
            default:
                throw new ArgumentException($"Training curves can be saved as .png, .svg or .html. Received: '{path}'.", nameof(path));
        }
    }

    /// <summary>The metric names plotted, in panel order: <c>loss</c> first, then the others (validation curves join their panel).</summary>
    public static IReadOnlyList<string> PanelNames(History history) =>
        history.Values.Keys.Where(k => !k.StartsWith("val_", StringComparison.Ordinal))
            .OrderBy(k => k == "loss" ? 0 : 1).ThenBy(k => k, StringComparer.Ordinal).ToList();

    private static List<Plot> Panels(History history, string? title)
    {
        var epochs = history.Epochs.Select(e => (double)(e + 1)).ToArray();
        var plots = new List<Plot>();
        foreach (var name in PanelNames(history))
        {
            var plot = new Plot();
            var train = history[name].ToArray();
            var line = plot.Add.Scatter(epochs[..train.Length], train, Colors.C0);
            line.LegendText = name;
            line.LineWidth = 2;
            if (history.Values.TryGetValue("val_" + name, out var val))
            {
                var v = val.ToArray();
                var vl = plot.Add.Scatter(epochs[..v.Length], v, Colors.C1);
                vl.LegendText = "val_" + name;
                vl.LineWidth = 2;
            }
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            plot.Axes.SetLimitsX(0.75, epochs[^1] + 0.25);
            plot.XLabel("epoch");
            plot.YLabel(name);
            plot.Title(plots.Count == 0 && title is not null ? $"{title} — {name}" : name);
            // Keep the legend out of the curves' way: top right for falling curves (losses), bottom right for rising ones.
            plot.ShowLegend(train[^1] >= train[0] ? Alignment.LowerRight : Alignment.UpperRight);
            plots.Add(plot);
        }
        return plots;
    }

    private static string Html(History history, string? title, int width, int height)
    {
        var sb = new StringBuilder();
        var heading = WebUtility.HtmlEncode(title ?? "Training curves");
        sb.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").Append(heading).Append("</title>")
          .Append("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>")
          .Append("</head><body>\n<h1>").Append(heading).Append("</h1>\n");
        foreach (var p in Panels(history, null))
            sb.Append("<div>").Append(p.GetSvgXml(width, height)).Append("</div>\n");
        var keys = history.Values.Keys.OrderBy(k => k.StartsWith("val_", StringComparison.Ordinal) ? 1 : 0).ThenBy(k => k, StringComparer.Ordinal).ToList();
        sb.Append("<table><tr><th>epoch</th>");
        foreach (var k in keys) sb.Append("<th>").Append(WebUtility.HtmlEncode(k)).Append("</th>");
        sb.Append("</tr>\n");
        for (var i = 0; i < history.Epochs.Count; i++)
        {
            sb.Append("<tr><td>").Append(history.Epochs[i] + 1).Append("</td>");
            foreach (var k in keys)
            {
                var values = history[k];
                sb.Append("<td>").Append(i < values.Count ? values[i].ToString("F4", CultureInfo.InvariantCulture) : "").Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n</body></html>\n");
        return sb.ToString();
    }
}
