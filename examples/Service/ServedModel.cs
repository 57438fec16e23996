using System.Text.Json;
using Functional;
using Functional.Shapes;
using Functional.Functions;
using Functional.Models;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Functional.Torch;
using Functional.Torch.Building;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Examples.Service;

/// <summary>A saved model could not be loaded; the message says which file and why.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A saved model, loaded once at start-up and shared by every request: its Keras config (<c>ModelConfig.FromJson</c>),
/// built (<c>BuiltNetwork.Build</c>) and given its weights (<c>LoadWeights</c>, which checks every name and shape).
/// <see cref="Predict"/> may be called from any number of threads at once: <see cref="BuiltNetwork.Predict(Tensor, int)"/>
/// never changes the model, and every tensor a call makes is its own (a dispose scope per call).
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly BuiltNetwork network;
    private readonly int batchSize;

    private ServedModel(BuiltNetwork network, string configPath, string weightsPath, int batchSize)
    {
        this.network = network;
        this.batchSize = batchSize;
        ConfigPath = configPath;
        WeightsPath = weightsPath;
        InputShape = network.Declaration.InputShapes[0];
        OutputShape = network.Declaration.OutputShapes[0];
        InputSize = checked((int)InputShape.Size!.Value);   // Load accepts fully known shapes only
        OutputSize = checked((int)OutputShape.Size!.Value);
    }

    /// <summary>The model's config document.</summary>
    public string ConfigPath { get; }

    /// <summary>Its weights.</summary>
    public string WeightsPath { get; }

    /// <summary>The model's name.</summary>
    public string Name => network.Declaration.Name;

    /// <summary>The built network (for comparisons in tests and benchmarks).</summary>
    public BuiltNetwork Network => network;

    /// <summary>One instance's shape, batch excluded: (28, 28, 1) for the MNIST model.</summary>
    public Shape InputShape { get; }

    /// <summary>One prediction's shape: (10) for the MNIST model.</summary>
    public Shape OutputShape { get; }

    /// <summary>Values in one instance.</summary>
    public int InputSize { get; }

    /// <summary>Values in one prediction.</summary>
    public int OutputSize { get; }

    /// <summary>
    /// The image size an uploaded picture is resized to and its channel count, when the input is an image in Keras's
    /// channels_last layout — (height, width, 1) or (height, width, 3); otherwise null.
    /// </summary>
    public (int Height, int Width, int Channels)? ImageInput =>
        InputShape.Rank == 3 && InputShape[2] is 1 or 3 ? (InputShape.Known(0), InputShape.Known(1), InputShape.Known(2)) : null;

    /// <summary>The weights file that goes with a config document: the same name with <c>.safetensors</c>.</summary>
    public static string WeightsPathFor(string configPath) => Path.ChangeExtension(configPath, ".safetensors");

    /// <summary>Loads a model saved as FILE.json + FILE.safetensors (a folder means its model.json).</summary>
    /// <exception cref="ModelLoadException">A file is missing or unreadable, the config or weights are invalid, or the model is not one this service serves.</exception>
    public static ServedModel Load(string path, Functional.Torch.Device? device = null, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Expected a positive batch size.");
        var configPath = Directory.Exists(path) ? Path.Combine(path, "model.json") : path;
        var weightsPath = WeightsPathFor(configPath);
        const string hint = " Train and save one with `dotnet run --project examples/Mnist` (it writes out/mnist/model.json and " +
                            "out/mnist/model.safetensors), or pass --model PATH.";
        if (!File.Exists(configPath))
            throw new ModelLoadException($"No model config at '{Path.GetFullPath(configPath)}'.{hint}");
        if (!File.Exists(weightsPath))
            throw new ModelLoadException($"The model config '{configPath}' has no weights next to it: '{Path.GetFullPath(weightsPath)}' does not exist.{hint}");
        IModel declaration;
        try
        {
            declaration = ModelConfig.FromJson(File.ReadAllText(configPath));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"Cannot read the model config '{configPath}': {e.Message}", e);
        }
        if (declaration.InputShapes.Count != 1 || declaration.OutputShapes.Count != 1)
            throw new ModelLoadException(
                $"Model '{declaration.Name}' in '{configPath}' has {declaration.InputShapes.Count} inputs and {declaration.OutputShapes.Count} outputs; " +
                "this service serves models with one input and one output.");
        if (!declaration.InputShapes[0].IsFullyKnown || !declaration.OutputShapes[0].IsFullyKnown)
            throw new ModelLoadException(
                $"Model '{declaration.Name}' in '{configPath}' has input shape {declaration.InputShapes[0]} and output shape {declaration.OutputShapes[0]}; " +
                "this service serves models whose per-sample shapes are fully known (no None dimensions).");
        var network = BuiltNetwork.Build(declaration, device ?? Functional.Torch.Device.Cpu);
        try
        {
            network.LoadWeights(weightsPath);
            return new ServedModel(network, configPath, weightsPath, batchSize);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            network.Dispose();
            throw new ModelLoadException($"Cannot load the weights '{weightsPath}' into model '{declaration.Name}': {e.Message}", e);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model on <paramref name="count"/> instances laid out one after another in <paramref name="values"/>
    /// (each <see cref="InputSize"/> values in the order of <see cref="InputShape"/>); returns the predictions the same way
    /// (<see cref="OutputSize"/> values each). Safe to call from many threads at once.
    /// </summary>
    public float[] Predict(float[] values, int count)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (count < 1 || (long)count * InputSize != values.Length)
            throw new ArgumentException($"Expected {count} × {InputSize} values; received {values.Length}.", nameof(values));
        using var scope = NewDisposeScope();
        var x = torch.tensor(values, InputShape.WithBatch(count));
        var y = network.Predict(x, batchSize);
        using var flat = y.to_type(ScalarType.Float32).contiguous();
        return flat.data<float>().ToArray();
    }

    /// <summary>Releases the network's native memory (after the last request).</summary>
    public void Dispose() => network.Dispose();
}
