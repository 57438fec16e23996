using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Functional.Examples.Service;

/// <summary>
/// The service's settings. Each is a configuration key, so it can come from the command line (<c>--model PATH</c>,
/// <c>--max-body-bytes N</c>, …), from an environment variable (<c>FUNCTIONAL_SERVICE_MODEL</c>, …; the command line wins),
/// or from code (the tests and the benchmark host the service in-process).
/// </summary>
public sealed record ServiceOptions
{
    /// <summary>The saved model's config document; its weights are the same name with <c>.safetensors</c>. A folder means its <c>model.json</c>.</summary>
    public string ModelPath { get; init; } = Path.Combine("out", "mnist", "model.json");

    /// <summary>Where the model runs: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>The largest request body accepted, in bytes; a larger one is answered 400 without being read further.</summary>
    public long MaxBodyBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>
    /// The most pixels an uploaded image's header may declare (default 4096 × 4096). Checked before decoding: a small PNG
    /// can declare a huge image (a decompression bomb), and the library's own limit (<c>Images.MaxImagePixels</c>,
    /// PIL's 89 million) lets one request hold hundreds of megabytes.
    /// </summary>
    public long MaxImagePixels { get; init; } = 4096L * 4096;

    /// <summary>The most instances (JSON instances or uploaded images) in one request.</summary>
    public int MaxInstances { get; init; } = 1024;

    /// <summary>The batch size <c>Predict</c> runs a request's instances in.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// Whether concurrent requests share Predict calls (see <see cref="MicroBatcher"/>); <see cref="BatchSize"/> caps a
    /// combined call. Off, every request runs its own Predict, concurrently with the others.
    /// </summary>
    public bool MicroBatch { get; init; }

    /// <summary>
    /// The range JSON values must lie in (both ends included), or <c>null</c> for any finite value. The MNIST model was
    /// trained on pixels / 255, so the default [0, 1] turns a request in 0–255 pixels into a 400 rather than confident nonsense.
    /// </summary>
    public (float Min, float Max)? ValueRange { get; init; } = (0f, 1f);

    /// <summary>The environment variables read (before the command line) start with this.</summary>
    public const string EnvironmentPrefix = "FUNCTIONAL_SERVICE_";

    /// <summary>Command-line switches and the configuration keys they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>
    {
        ["--model"] = "Model",
        ["--device"] = "Device",
        ["--max-body-bytes"] = "MaxBodyBytes",
        ["--max-instances"] = "MaxInstances",
        ["--max-image-pixels"] = "MaxImagePixels",
        ["--batch-size"] = "BatchSize",
        ["--value-range"] = "ValueRange",
        ["--micro-batch"] = "MicroBatch",
    };

    /// <summary>The usage text (<c>--help</c>).</summary>
    public const string Usage = """
        Usage: dotnet run --project examples/Service [-- OPTIONS]

        Serves a model saved by examples/Mnist (its Keras config FILE.json and weights FILE.safetensors) over HTTP:
          POST /predict   JSON {"instances": [...]}, an image/png or image/jpeg body, or multipart/form-data image files
          GET  /health    the model's name and shapes
        Bad input is answered 400 with {"error": "..."}. Exit code 2 when the model cannot be loaded or an option is bad.

        Options (each also an environment variable FUNCTIONAL_SERVICE_<NAME>, e.g. FUNCTIONAL_SERVICE_MODEL):
          --model PATH            the model's .json (weights next to it as .safetensors), or a folder with model.json
                                  (default out/mnist/model.json)
          --urls URLS             where to listen, ASP.NET Core's setting (default http://localhost:5000)
          --device DEVICE         cpu, cuda, cuda:N or auto (default cpu)
          --max-body-bytes N      the largest request body accepted (default 8388608)
          --max-instances N       the most instances or images in one request (default 1024)
          --max-image-pixels N    the most pixels an uploaded image may declare (default 16777216 = 4096x4096)
          --batch-size N          Predict's batch size (default 64)
          --micro-batch BOOL      true: concurrent requests share Predict calls of up to --batch-size instances
                                  (default false)
          --value-range MIN,MAX   the range JSON values must lie in, or 'none' (default 0,1: pixels / 255)
          -h, --help              show this help and exit
        """;

    /// <summary>Reads the settings from configuration; every bad value is an <see cref="ArgumentException"/> naming its switch.</summary>
    public static ServiceOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var defaults = new ServiceOptions();
        var model = configuration["Model"];
        var device = configuration["Device"];
        return new ServiceOptions
        {
            ModelPath = string.IsNullOrWhiteSpace(model) ? defaults.ModelPath : model,
            Device = string.IsNullOrWhiteSpace(device) ? defaults.Device : device,
            MaxBodyBytes = Positive(configuration, "MaxBodyBytes", "--max-body-bytes", defaults.MaxBodyBytes),
            MaxInstances = (int)Positive(configuration, "MaxInstances", "--max-instances", defaults.MaxInstances, int.MaxValue),
            MaxImagePixels = Positive(configuration, "MaxImagePixels", "--max-image-pixels", defaults.MaxImagePixels),
            BatchSize = (int)Positive(configuration, "BatchSize", "--batch-size", defaults.BatchSize, int.MaxValue),
            ValueRange = Range(configuration["ValueRange"], defaults.ValueRange),
            MicroBatch = Flag(configuration["MicroBatch"], "--micro-batch", defaults.MicroBatch),
        };
    }

    /// <summary>Rejects a command line with a switch this service does not know (a typo would otherwise be ignored).</summary>
    public static string? UnknownSwitch(IEnumerable<string> args)
    {
        var isValue = false;   // the argument after "--name" (without '=') is its value, even when it starts with '-' (-1,1)
        foreach (var arg in args)
        {
            if (isValue) { isValue = false; continue; }
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var name = arg.Split('=', 2)[0];
                if (!(Switches.ContainsKey(name) || name is "--urls" or "--environment" or "--contentRoot" || name.Contains(':'))) return name;
                isValue = !arg.Contains('=');
            }
            // A short switch (-x): the configuration reader would ignore it without a word.
            else if (arg.StartsWith('-') && arg is not ("-h" or "-")) return arg.Split('=', 2)[0];
        }
        return null;
    }

    private static long Positive(IConfiguration configuration, string key, string option, long fallback, long max = long.MaxValue)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text)) return fallback;
        if (long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max)
            return value;
        throw new ArgumentException($"{option} expects a positive integer (at most {max}); received '{text}'.");
    }

    private static bool Flag(string? text, string option, bool fallback) =>
        string.IsNullOrWhiteSpace(text) ? fallback
        : bool.TryParse(text.Trim(), out var value) ? value
        : throw new ArgumentException($"{option} expects true or false; received '{text}'.");

    private static (float, float)? Range(string? text, (float, float)? fallback)
    {
        if (string.IsNullOrWhiteSpace(text)) return fallback;
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        var parts = text.Split(',');
        if (parts.Length == 2
            && float.TryParse(parts[0].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var min)
            && float.TryParse(parts[1].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var max)
            && float.IsFinite(min) && float.IsFinite(max) && min < max)
            return (min, max);
        throw new ArgumentException($"--value-range expects MIN,MAX with MIN < MAX (e.g. 0,1) or 'none'; received '{text}'.");
    }
}
